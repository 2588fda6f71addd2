// `mnv2 export --onnx` end to end: the built CLI exports the pretrained classifier; ONNX Runtime (CPU)
// runs the file on a real image preprocessed by our GPU path, and its logits equal our engine's.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildClassifier, classifierInfo, classifyTensor, importTflite, prepareImages, type Engine } from '@mnv2/core';
import { decodeImage } from '../../packages/cli/src/data/decode.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { expectClose } from '../helpers/allclose.js';
import { TFLITE_KERAS } from '../io/files.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'packages/cli/dist/main.js');
const CAT = fileURLToPath(new URL('../../../shared/datasets/coral_test_images/cat.bmp', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'mnv2-export-'));

beforeAll(() => {
  const b = spawnSync('npx', ['turbo', 'run', 'build', '--filter=@mnv2/cli...', '--output-logs=errors-only'], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
  if (b.status !== 0) throw new Error(`build failed:\n${b.stdout}\n${b.stderr}`);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`${GPU} mnv2 export --onnx`, () => {
  it('ONNX Runtime on the exported pretrained classifier gives our probabilities (cat.bmp → Egyptian cat)', async () => {
    const file = join(tmp, 'mobilenet_v2.onnx');
    const r = spawnSync(process.execPath, [MAIN, 'export', '--onnx', file, TFLITE_KERAS, '--softmax'], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
    expect(r.status, r.stderr).toBe(0);
    const again = spawnSync(process.execPath, [MAIN, 'export', '--onnx', file, TFLITE_KERAS], { cwd: ROOT, encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists: pass --force/);

    const e: Engine = await gpuEngine();
    const { weights, info: t } = importTflite(readFileSync(TFLITE_KERAS), TFLITE_KERAS);
    const info = classifierInfo(weights, { source: TFLITE_KERAS, alpha: t.alpha, inputSize: t.inputSize, classes: t.classes, preprocess: 'tf', padding: 'same', epsilon: t.epsilon });
    const net = buildClassifier(e, weights, info);
    const img = await decodeImage(CAT);
    const x = prepareImages(e, [{ width: img.width, height: img.height, rgb: img.rgb }], { size: 224 });
    const input = await x.read();
    const probs = classifyTensor(e, net, x);
    const ours = await probs.read();

    const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 224, 224, 3]) });
    const theirs = out[session.outputNames[0]].data as Float32Array;
    await session.release();
    expectClose(theirs, ours, { rtol: 1e-3, atol: 1e-5, what: 'ONNX Runtime vs mnv2 probabilities' });
    const top = theirs.indexOf(Math.max(...theirs));
    expect(top).toBe(285); // Egyptian cat in Keras order
  });
});
