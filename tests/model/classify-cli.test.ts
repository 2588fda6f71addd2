// `mnv2 classify` end to end: the built CLI (packages/cli/dist/main.js, rebuilt first — turbo makes that
// a cache hit when nothing changed) classifies a Coral test image with the default weights (the shared
// TFLite copy a dev checkout finds) and with the same weights saved as safetensors, and fails with exit
// code 1 and the file's name for a missing image, a non-image file and unusable weights, without a
// stack trace.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importTflite, serializeSafetensors } from '@mnv2/core';
import { GPU } from '../helpers/gpu.js';
import { buildCli, mnv2 } from '../helpers/cli.js';
import { TFLITE_KERAS } from '../io/files.js';
import { kerasLayerSpecs, writeKerasH5 } from '../io/h5-fixture.js';

const CAT = fileURLToPath(new URL('../../../shared/datasets/coral_test_images/cat.bmp', import.meta.url));


const tmp = mkdtempSync(join(tmpdir(), 'mnv2-classify-'));

beforeAll(() => {
  buildCli();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`${GPU} mnv2 classify (built CLI)`, () => {
  it('cat.bmp --json → Egyptian cat first, with the default weights', () => {
    const r = mnv2('classify', CAT, '--json', '--top', '3');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      weights: { path: string; classes: number };
      results: { file: string; top: { rank: number; index: number; kerasIndex: number; label: string; probability: number }[] }[];
      errors: unknown[];
    };
    expect(doc.weights.path).toMatch(/\.tflite$/);
    expect(doc.errors).toEqual([]);
    expect(doc.results).toHaveLength(1);
    const top = doc.results[0].top;
    expect(top).toHaveLength(3);
    expect(top[0].label).toBe('Egyptian cat');
    expect(top[0].kerasIndex).toBe(285);
    expect(top[0].probability).toBeGreaterThan(0.5);
    expect(top[0].probability).toBeGreaterThanOrEqual(top[1].probability);
  });

  it('the same weights as safetensors (format found from the content, no extension) give the same answer', () => {
    const { weights } = importTflite(readFileSync(TFLITE_KERAS), TFLITE_KERAS);
    const file = join(tmp, 'mnv2-weights');
    writeFileSync(file, serializeSafetensors(weights, { format: 'mnv2' }));
    const r = mnv2('classify', CAT, '--json', '--top', '1', '--weights', file);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { weights: { format: string; classes: number }; results: { top: { label: string }[] }[] };
    expect(doc.weights).toMatchObject({ format: 'safetensors', classes: 1000 });
    expect(doc.results[0].top[0].label).toBe('Egyptian cat');
  });
});

describe(`${GPU} mnv2 classify --image-size`, () => {
  it('runs the network at the size asked (the document says so, the probabilities differ from 224), and refuses a size below 32', () => {
    const at = (size?: number) => {
      const r = mnv2('classify', CAT, '--json', '--top', '1', ...(size ? ['--image-size', String(size)] : []));
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { weights: { inputSize: number }; results: { top: { label: string; probability: number }[] }[] };
    };
    const full = at();
    const small = at(160);
    expect(full.weights.inputSize).toBe(224);
    expect(small.weights.inputSize).toBe(160);
    expect(small.results[0].top[0].label).toMatch(/cat/);
    expect(Math.abs(small.results[0].top[0].probability - full.results[0].top[0].probability)).toBeGreaterThan(1e-4);
    const bad = mnv2('classify', CAT, '--image-size', '16');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--image-size must be 32 or more/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});

describe(`${GPU} mnv2 classify with a Keras .h5 file`, () => {
  it('the same weights in the published .h5 layout (legacy layer names) give the same answer', async () => {
    const { weights } = importTflite(readFileSync(TFLITE_KERAS), TFLITE_KERAS);
    const layers = kerasLayerSpecs(weights, { alpha: 1.0, inputSize: 224, includeTop: true, names: 'legacy' });
    const file = join(tmp, 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5');
    writeFileSync(file, await writeKerasH5(layers, { inputSize: 224 }));
    const r = mnv2('classify', CAT, '--json', '--top', '1', '--weights', file);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { weights: { format: string; classes: number }; results: { top: { label: string }[] }[] };
    expect(doc.weights).toMatchObject({ format: 'keras-h5', classes: 1000 });
    expect(doc.results[0].top[0].label).toBe('Egyptian cat');
  });
});

describe('mnv2 classify errors', () => {
  it('a missing image: exit 1, the name in stderr, no stack', () => {
    const missing = join(tmp, 'no-such-image.jpg');
    const r = mnv2('classify', missing);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a text file: exit 1, the name in stderr', () => {
    const txt = join(tmp, 'notes.txt');
    writeFileSync(txt, 'this is not an image\n');
    const r = mnv2('classify', txt);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(txt);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('corrupt or unsupported weights: exit 1, the weights file named', () => {
    const bad = join(tmp, 'broken.tflite');
    writeFileSync(bad, 'garbage, not a flatbuffer');
    const r = mnv2('classify', CAT, '--weights', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(bad);
    const pth = join(tmp, 'model.pth');
    writeFileSync(pth, 'x');
    const r2 = mnv2('classify', CAT, '--weights', pth);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/not supported yet/);
    expect(r2.stderr).toContain(pth);
  });
});
