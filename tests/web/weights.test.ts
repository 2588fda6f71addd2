// The web package's weight loading, host side (no browser needed): format sniffing and the messages a
// page shows for wrong files, and imports of each format the demo offers.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeSafetensors } from '@mnv2/core';
import { importWeights, sniffFormat, WeightsLoadError } from '../../packages/web/src/formats.js';
import { SHARED } from './harness.js';

const TFLITE = join(SHARED, 'weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite');

describe('web weights: format sniffing and import', () => {
  it('recognises TFLite and safetensors by content, whatever the URL says', () => {
    const tfl = readFileSync(TFLITE);
    expect(sniffFormat(tfl, 'https://x/model.bin')).toBe('tflite');
    const st = serializeSafetensors(new Map([['a', { shape: [2], data: Float32Array.from([1, 2]) }]]));
    expect(sniffFormat(st, 'https://x/download?id=3')).toBe('safetensors');
    expect(sniffFormat(new Uint8Array(16), 'https://x/m.onnx')).toBe('onnx');
  });

  it('names the file and the problem for HTML pages, wrong headers and unknown formats', () => {
    const html = new TextEncoder().encode('<!doctype html><html>not found</html>');
    expect(() => sniffFormat(html, '/m.safetensors')).toThrow(/'\/m\.safetensors' are not a valid \.safetensors file/);
    expect(() => sniffFormat(html, '/weights?x=1')).toThrow(/HTML\/XML page, not a weights file/);
    expect(() => sniffFormat(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), '/w')).toThrow(WeightsLoadError);
    expect(() => sniffFormat(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), '/w')).toThrow(/unknown format; use a \.safetensors, \.tflite/);
  });

  it('imports the shared TFLite classifier, and refuses a truncated copy by name', async () => {
    const tfl = readFileSync(TFLITE);
    const r = await importWeights(tfl, 'keras.tflite');
    expect(r.format).toBe('tflite');
    expect(r.alpha).toBe(1);
    expect(r.classifier?.classes).toBe(1000);
    await expect(importWeights(tfl.subarray(0, tfl.length >> 1), 'half.tflite')).rejects.toThrow(/cannot load weights.*half\.tflite.*truncated or corrupt/);
  });

  it('reads a trained mnv2 safetensors (dense head, alpha from the metadata) and an ImageNet one (predictions head)', async () => {
    const { weights } = (await importWeights(readFileSync(TFLITE), 'k.tflite'));
    const imagenet = await importWeights(serializeSafetensors(weights, { input_size: '224' }), 'imagenet.safetensors');
    expect(imagenet.classifier).toMatchObject({ classes: 1000, inputSize: 224, alpha: 1 });
    const base = new Map([...weights].filter(([n]) => !n.startsWith('predictions/')));
    base.set('dense/kernel', { shape: [1280, 1], data: new Float32Array(1280) });
    base.set('dense/bias', { shape: [1], data: new Float32Array(1) });
    const trained = await importWeights(serializeSafetensors(base, { format: 'mnv2', alpha: '1', input_size: '96', classes: '["a","b"]' }), 'model.safetensors');
    expect(trained.classifier).toBeNull();
    expect(trained.alpha).toBe(1);
    expect(trained.metadata.classes).toBe('["a","b"]');
    expect(trained.description).toMatch(/mnv2 trained model/);
  });
});
