// `mnv2 export --keras-h5`: a trained run as the transfer-learning tutorial's `model.save_weights`
// file (nested MobileNetV2 base + head), and a pretrained classifier as Keras' MobileNetV2 with top.
// Round trip: export, import with our Keras importer, same weights bit for bit and same outputs.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importKerasH5, importTflite, kerasLayers, readKerasH5, type WeightMap } from '@mnv2/core';
import { decodeImage } from '../../packages/cli/src/data/decode.js';
import { buildRunModel, readRun } from '../../packages/cli/src/run/load-run.js';
import { buildCli, linkAlpacaSubset, mnv2 } from '../helpers/cli.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { TFLITE_KERAS } from '../io/files.js';

let tmp: string;
beforeAll(() => {
  buildCli();
  tmp = mkdtempSync(join(tmpdir(), 'mnv2-h5-export-'));
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sameBits = (a: WeightMap, b: WeightMap, names: Iterable<string>) => {
  for (const n of names) {
    const x = a.get(n);
    const y = b.get(n);
    expect(x, `${n} in the export`).toBeDefined();
    expect(y, `${n} in the original`).toBeDefined();
    expect(x!.shape, n).toEqual(y!.shape);
    expect(Buffer.from(x!.data.buffer, x!.data.byteOffset, x!.data.byteLength).equals(Buffer.from(y!.data.buffer, y!.data.byteOffset, y!.data.byteLength)), `${n} bit for bit`).toBe(true);
  }
};

describe(`${GPU} mnv2 export --keras-h5`, () => {
  it("a trained run: the tutorial model's save_weights layout; re-imported it gives the same predictions", async () => {
    const data = join(tmp, 'alpaca');
    linkAlpacaSubset(data, 6);
    const run = join(tmp, 'run');
    const t = mnv2('train', data, '--image-size', '96', '--epochs', '1', '--val-split', '0', '--out', run);
    expect(t.code, t.stderr).toBe(0);
    const file = join(tmp, 'alpaca_weights.h5');
    const r = mnv2('export', '--keras-h5', file, run);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tutorial model (mobilenetv2_1.00_96 base + dense(1))');
    const bytes = readFileSync(file);

    // Layout: what Keras' model.save_weights writes for input → augmentation → preprocess_input → base → pooling → dropout → dense.
    const c = await readKerasH5(bytes, file);
    expect(c.layout).toBe('weights');
    expect(c.layers.map((l) => l.name)).toEqual(['input_2', 'sequential', 'tf.math.truediv', 'tf.math.subtract', 'mobilenetv2_1.00_96', 'global_average_pooling2d', 'dropout', 'dense']);
    const base = c.layers.find((l) => l.name === 'mobilenetv2_1.00_96')!;
    // A frozen base loads layer by layer: kernel, then gamma, beta, moving_mean, moving_variance.
    const keras = kerasLayers({ alpha: 1, inputSize: 96, includeTop: false }).flatMap((l) => l.weights.map((w) => `${w.name}:0`));
    expect(base.weights.map((w) => w.name)).toEqual(keras);
    expect(base.weights[0].path).toBe('mobilenetv2_1.00_96/Conv1/kernel:0');
    expect(c.layers.find((l) => l.name === 'dense')!.weights.map((w) => [w.name, w.shape])).toEqual([
      ['dense/kernel:0', [1280, 1]],
      ['dense/bias:0', [1]],
    ]);

    // Our importer reads it back: the base by Keras names, the head as `others`; bit for bit.
    const info = await readRun(run, 'test');
    const back = await importKerasH5(bytes, { file, otherLayers: true });
    expect(back).toMatchObject({ alpha: 1, includeTop: false, matchedBy: 'name' });
    sameBits(back.weights, info.weights, back.weights.keys());
    sameBits(back.others!, info.weights, ['dense/kernel', 'dense/bias']);
    expect(back.weights.size + back.others!.size).toBe(info.weights.size);
    // Without otherLayers the head is refused, not silently dropped.
    await expect(importKerasH5(bytes, { file })).rejects.toThrow(/unexpected tensors \(2\): dense\/kernel/);

    // Same outputs: the run's model with the re-imported weights.
    const e = await gpuEngine();
    const imgs = await Promise.all(readdirSync(join(data, 'alpaca')).sort().map((f) => decodeImage(join(data, 'alpaca', f))));
    const original = buildRunModel(e, info);
    const reimported = buildRunModel(e, { ...info, weights: new Map([...back.weights, ...back.others!]) });
    const a = (await original.predict(imgs)).flat();
    const b = (await reimported.predict(imgs)).flat();
    original.dispose();
    reimported.dispose();
    expect(b).toEqual(a);
  }, 300_000);

  it('a pretrained classifier: Keras MobileNetV2 with top, Keras names; re-imported bit for bit', async () => {
    const file = join(tmp, 'mobilenet_v2_1.0_224.h5');
    const r = mnv2('export', '--keras-h5', file, TFLITE_KERAS);
    expect(r.code, r.stderr).toBe(0);
    const back = await importKerasH5(readFileSync(file), { file });
    expect(back).toMatchObject({ alpha: 1, includeTop: true, classes: 1000, matchedBy: 'name' });
    const orig = importTflite(readFileSync(TFLITE_KERAS), TFLITE_KERAS).weights;
    sameBits(back.weights, orig, orig.keys());
    const again = mnv2('export', '--keras-h5', file, TFLITE_KERAS);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('exists: pass --force');
  }, 120_000);
});
