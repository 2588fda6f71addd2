// `mnv2 export --tflite` end to end, checked by an independent runtime: Google's LiteRT.js (TFLite's
// kernels with XNNPACK, in WebAssembly; tests/helpers/litert.ts) runs the files the built CLI writes.
//   float32: its logits equal our engine's (max |Δ| ≤ 1e-4 of the largest logit), pretrained and trained;
//   int8 (uint8 in/out): top-1 on the ImageNet sample within 2 points of float, calibrated on other
//   images; bias correction (with nearest or adaptive weight rounding) brings a run's int8 logits closer to float; a trained run's int8 file calibrates on the run's own training images;
//   our importer reads both files back; bad targets are refused before anything is written.
// The figures on the full alpaca run are in bench/results/export-tflite-lavapipe.md (scripts/export-tflite-figures.ts).
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildClassifier, classifierInfo, importTflite, prepareImages, type Engine, type FitImage, type MobileNetV2Net } from '@mnv2/core';
import { decodeImage } from '../../packages/cli/src/data/decode.js';
import { buildRunModel, readRun } from '../../packages/cli/src/run/load-run.js';
import { buildCli, linkAlpacaSubset, mnv2, SHARED } from '../helpers/cli.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { maxAbs } from '../helpers/allclose.js';
import { liteRtModel } from '../helpers/litert.js';
import { TFLITE_KERAS } from '../io/files.js';

const CORAL = join(SHARED, 'datasets/coral_test_images');
const IMAGENET = join(SHARED, 'datasets/imagenet_sample');
const ALPACA = join(SHARED, 'datasets/alpaca/dataset');
const argmax = (a: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
};
/** Float input in [-1,1] → the uint8 codes of the exported models (scale 2/255, zero point 128: the pixels). */
const toUint8 = (x: Float32Array) => Uint8Array.from(x, (v) => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))));

let tmp: string;
let e: Engine;
beforeAll(async () => {
  buildCli();
  tmp = mkdtempSync(join(tmpdir(), 'mnv2-tflite-'));
  e = await gpuEngine();
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Our engine's logits for decoded images, and the exact float inputs it used (to feed the other runtime). */
async function ours(net: MobileNetV2Net, imgs: FitImage[], size: number): Promise<{ logits: Float32Array[]; inputs: Float32Array[] }> {
  const logits: Float32Array[] = [];
  const inputs: Float32Array[] = [];
  for (const img of imgs) {
    const x = prepareImages(e, [img], { size });
    inputs.push(await x.read());
    const y = net.forward(e, x, { training: false });
    logits.push(await y.read());
    y.dispose();
    x.dispose();
  }
  return { logits, inputs };
}

describe(`${GPU} mnv2 export --tflite: refuses bad targets before writing`, () => {
  it('existing file without --force, read-only or missing folder, a run folder without a model', () => {
    const existing = join(tmp, 'exists.tflite');
    writeFileSync(existing, 'keep me');
    const a = mnv2('export', '--tflite', existing, TFLITE_KERAS);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(`${existing} exists: pass --force to overwrite it`);
    expect(readFileSync(existing, 'utf8')).toBe('keep me');

    const ro = mnv2('export', '--tflite', '/sys/mnv2-model.tflite', TFLITE_KERAS);
    expect(ro.code).toBe(1);
    expect(ro.stderr).toContain("cannot write into '/sys' (read-only or no permission): choose a writable folder");

    const missing = mnv2('export', '--tflite', join(tmp, 'no/such/folder/m.tflite'), TFLITE_KERAS);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/the folder '.*no\/such\/folder' does not exist: create it first/);

    const run = join(tmp, 'run-without-model');
    mkdirSync(run);
    writeFileSync(join(run, 'config.json'), '{}');
    const nomodel = mnv2('export', '--tflite', join(tmp, 'x.tflite'), run);
    expect(nomodel.code).toBe(1);
    expect(nomodel.stderr).toContain(`the run folder '${run}' has no model.safetensors yet`);

    const noCal = mnv2('export', '--tflite', join(tmp, 'x.tflite'), TFLITE_KERAS, '--int8');
    expect(noCal.code).toBe(1);
    expect(noCal.stderr).toMatch(/--int8 needs representative images to calibrate on: pass --calibration DIR/);
    const badMethod = mnv2('export', '--tflite', join(tmp, 'x.tflite'), TFLITE_KERAS, '--int8', '--calibration', CORAL, '--calibration-method', 'kl');
    expect(badMethod.code).toBe(1);
    expect(badMethod.stderr).toContain("--calibration-method must be one of minmax, percentile, mse, got 'kl'");
    const badRounding = mnv2('export', '--tflite', join(tmp, 'x.tflite'), TFLITE_KERAS, '--int8', '--calibration', CORAL, '--weight-rounding', 'up');
    expect(badRounding.stderr).toContain("--weight-rounding must be adaptive, gptq or nearest, got 'up'");
    const stray = mnv2('export', '--tflite', join(tmp, 'x.tflite'), TFLITE_KERAS, '--int8', '--calibration', CORAL, '--percentile', '99.9');
    expect(stray.stderr).toContain('--percentile applies to --calibration-method percentile only');
    // nothing half-written
    expect(readdirSync(tmp).filter((f) => f.startsWith('x.tflite'))).toEqual([]);
  }, 60_000);
});

describe(`${GPU} mnv2 export --tflite: the pretrained ImageNet classifier`, () => {
  let net: MobileNetV2Net;
  beforeAll(() => {
    const { weights, info: t } = importTflite(readFileSync(TFLITE_KERAS), TFLITE_KERAS);
    net = buildClassifier(e, weights, classifierInfo(weights, { source: TFLITE_KERAS, alpha: t.alpha, inputSize: t.inputSize, classes: t.classes, preprocess: 'tf', padding: 'same', epsilon: t.epsilon }));
  });

  it('float32: LiteRT gives our logits; our importer reads the file back to the same network', async () => {
    const file = join(tmp, 'mobilenet_v2_f32.tflite');
    const r = mnv2('export', '--tflite', file, TFLITE_KERAS);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/float32, input \[1,224,224,3\] in \[-1,1\], 1000 logits/);
    const bytes = readFileSync(file);
    const imgs = await Promise.all(['cat.bmp', 'hot_dog.jpg', 'grace_hopper.bmp'].map((f) => decodeImage(join(CORAL, f))));
    const { logits, inputs } = await ours(net, imgs, 224);
    const m = await liteRtModel(bytes);
    expect(m.inputs[0]).toMatchObject({ dtype: 'float32', shape: [1, 224, 224, 3] });
    for (let i = 0; i < imgs.length; i++) {
      const theirs = (await m.run(inputs[i], [1, 224, 224, 3])) as Float32Array;
      let worst = 0;
      for (let k = 0; k < 1000; k++) worst = Math.max(worst, Math.abs(theirs[k] - logits[i][k]));
      expect(worst / maxAbs(logits[i]), `image ${i}: max |LiteRT - ours| relative to the largest logit`).toBeLessThanOrEqual(1e-4);
      expect(argmax(theirs)).toBe(argmax(logits[i]));
    }
    expect(argmax(logits[0])).toBe(285); // Egyptian cat
    m.delete();

    const back = importTflite(bytes, file);
    expect(back.info).toMatchObject({ alpha: 1, inputSize: 224, classes: 1000, inputQuantization: null });
    const again = buildClassifier(e, back.weights, classifierInfo(back.weights, { source: file, alpha: 1, inputSize: 224, classes: 1000, preprocess: 'tf', padding: 'same', epsilon: back.info.epsilon }));
    const reread = await ours(again, imgs, 224);
    for (let i = 0; i < imgs.length; i++) {
      let worst = 0;
      for (let k = 0; k < 1000; k++) worst = Math.max(worst, Math.abs(reread.logits[i][k] - logits[i][k]));
      expect(worst / maxAbs(logits[i]), `image ${i}: re-imported vs original`).toBeLessThanOrEqual(1e-4);
    }
  }, 180_000);

  it('int8, uint8 in/out, calibrated on alpaca photos: ImageNet-sample top-1 within 2 points of float', async () => {
    // The classifier the CLI exports by default (weights dequantized from Keras' int8 file). Weights
    // that were never int8 lose more (TF-Slim float backbone: 2.4 to 4.8 points with bias correction,
    // depending on the calibration images): bench/results/export-tflite-lavapipe.md.
    const file = join(tmp, 'mobilenet_v2_int8.tflite');
    const r = mnv2('export', '--tflite', file, TFLITE_KERAS, '--int8', '--calibration', ALPACA, '--calibration-size', '32', '--input-type', 'uint8', '--output-type', 'uint8');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/full-integer int8, input uint8 \[1,224,224,3\].*1000 uint8 logits; calibrated on 32 images/);
    const bytes = readFileSync(file);
    expect(bytes.length).toBeLessThan(statSync(TFLITE_KERAS).size * 1.2); // int8 weights, like Keras' own int8 file

    const back = importTflite(bytes, file);
    expect(back.info).toMatchObject({ alpha: 1, inputSize: 224, classes: 1000 });
    expect(back.info.inputQuantization).toMatchObject({ type: 'UINT8', zeroPoint: 128 });
    expect(back.info.inputQuantization!.scale).toBeCloseTo(2 / 255, 7);

    const rows = readFileSync(join(IMAGENET, 'INDEX.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    const q = await liteRtModel(bytes);
    expect(q.inputs[0]).toMatchObject({ dtype: 'uint8', shape: [1, 224, 224, 3] });
    expect(q.outputs[0]).toMatchObject({ dtype: 'uint8', shape: [1, 1000] });
    let floatTop1 = 0;
    let int8Top1 = 0;
    let agree = 0;
    for (const [cls, , name] of rows) {
      const { logits, inputs } = await ours(net, [await decodeImage(join(IMAGENET, name))], 224);
      const a = argmax(logits[0]);
      const b = argmax(await q.run(toUint8(inputs[0]), [1, 224, 224, 3]));
      floatTop1 += a === Number(cls) ? 1 : 0;
      int8Top1 += b === Number(cls) ? 1 : 0;
      agree += a === b ? 1 : 0;
    }
    q.delete();
    const n = rows.length;
    console.log(`[tflite int8] ImageNet sample: float top-1 ${floatTop1}/${n}, int8 top-1 ${int8Top1}/${n}, top-1 agreement ${agree}/${n}`);
    expect(n).toBe(125);
    expect(Math.abs(int8Top1 - floatTop1) / n).toBeLessThanOrEqual(0.02);
    expect(floatTop1 / n).toBeGreaterThan(0.8);
  }, 400_000);
});

describe(`${GPU} mnv2 export --tflite: a trained run`, () => {
  let run: string;
  let data: string;
  beforeAll(() => {
    data = join(tmp, 'alpaca');
    linkAlpacaSubset(data, 12);
    run = join(tmp, 'run');
    const t = mnv2('train', data, '--image-size', '96', '--epochs', '2', '--val-split', '0.25', '--out', run);
    if (t.code !== 0) throw new Error(`train failed:\n${t.stderr}`);
  }, 300_000);

  it('float32 equals our model on the run; int8 calibrates on its training images and our importer reads both', async () => {
    const f32 = join(tmp, 'run_f32.tflite');
    const i8 = join(tmp, 'run_int8.tflite');
    const a = mnv2('export', '--tflite', f32, run);
    expect(a.code, a.stderr).toBe(0);
    const b = mnv2('export', '--tflite', i8, run, '--int8', '--input-type', 'uint8', '--output-type', 'uint8');
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/calibrated on 18 of the run's 18 training images/);
    expect(b.stdout).toMatch(/minmax activation ranges, adaptive weight rounding/);
    const plain = join(tmp, 'run_int8_plain.tflite'); // the converter's scheme: nearest codes, its biases
    const c = mnv2('export', '--tflite', plain, run, '--int8', '--input-type', 'uint8', '--output-type', 'uint8', '--no-bias-correction', '--weight-rounding', 'nearest');
    expect(c.code, c.stderr).toBe(0);
    const nearest = join(tmp, 'run_int8_nearest.tflite'); // bias correction, nearest codes
    const d = mnv2('export', '--tflite', nearest, run, '--int8', '--input-type', 'uint8', '--output-type', 'uint8', '--weight-rounding', 'nearest');
    expect(d.code, d.stderr).toBe(0);

    const info = await readRun(run, 'test');
    const model = buildRunModel(e, info);
    const files = ['alpaca', 'not alpaca'].flatMap((c) => readdirSync(join(data, c)).sort().map((f) => join(data, c, f)));
    const imgs = await Promise.all(files.map((f) => decodeImage(f)));
    const logits = (await model.predict(imgs)).map((r) => r[0]);
    model.dispose();
    const f = await liteRtModel(readFileSync(f32));
    const q = await liteRtModel(readFileSync(i8));
    const p = await liteRtModel(readFileSync(plain));
    const nq = await liteRtModel(readFileSync(nearest));
    const oq = importTflite(readFileSync(i8), i8).info.outputQuantization!;
    const op = importTflite(readFileSync(plain), plain).info.outputQuantization!;
    const on = importTflite(readFileSync(nearest), nearest).info.outputQuantization!;
    let worst = 0;
    let agree = 0;
    let err = 0;
    let errPlain = 0;
    let errNearest = 0;
    const dq: number[] = [];
    for (let i = 0; i < imgs.length; i++) {
      const x = prepareImages(e, [imgs[i]], { size: 96 });
      const input = await x.read();
      x.dispose();
      worst = Math.max(worst, Math.abs((await f.run(input, [1, 96, 96, 3]))[0] - logits[i]));
      const deq = ((await q.run(toUint8(input), [1, 96, 96, 3]))[0] - oq.zeroPoint) * oq.scale;
      agree += deq > 0 === logits[i] > 0 ? 1 : 0;
      dq.push(deq);
      err += Math.abs(deq - logits[i]);
      errPlain += Math.abs(((await p.run(toUint8(input), [1, 96, 96, 3]))[0] - op.zeroPoint) * op.scale - logits[i]);
      errNearest += Math.abs(((await nq.run(toUint8(input), [1, 96, 96, 3]))[0] - on.zeroPoint) * on.scale - logits[i]);
    }
    f.delete();
    q.delete();
    p.delete();
    nq.delete();
    expect(worst / maxAbs(logits), 'float: max |LiteRT - ours| relative to the largest logit').toBeLessThanOrEqual(1e-4);
    const n = imgs.length;
    console.log(
      `[tflite int8] small run (96², 2 epochs): int8 agrees with float on ${agree}/${n}; mean |Δlogit| ${(err / n).toFixed(3)} (nearest rounding ${(errNearest / n).toFixed(3)}; the converter's scheme, also without bias correction, ${(errPlain / n).toFixed(3)})`,
    );
    expect(errNearest, 'bias correction brings the int8 logits closer to float').toBeLessThan(errPlain);
    expect(err, 'bias correction with adaptive rounding (the default) too').toBeLessThan(errPlain);
    // Adaptive vs nearest rounding on this tiny run (18 calibration images) is logged, not held to a
    // bar: measured 0.179 vs 0.173 (no gain here); on the float ImageNet backbone and the 3-epoch
    // alpaca run it lowers the error (bench/results/export-tflite-lavapipe.md), and
    // tests/model/export-tflite-calibration.test.ts checks the method itself with LiteRT.js.
    // A 2-epoch run on 18 images has logits near 0, where int8 noise flips signs: its agreement is
    // logged, not held to a bar (the tutorial run's 64/65 is in bench/results/export-tflite-lavapipe.md).
    const [lo, hi] = [Math.min(...dq), Math.max(...dq)];
    expect(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo, 'int8 logits vary with the image').toBe(true);
    for (const file of [f32, i8]) {
      const back = importTflite(readFileSync(file), file);
      expect(back.info).toMatchObject({ alpha: 1, inputSize: 96, classes: 1 });
    }
  }, 300_000);
});
