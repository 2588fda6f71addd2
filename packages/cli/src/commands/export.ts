// `mnv2 export`: writes MobileNetV2 (a pretrained classifier, or a model trained with `mnv2 train`)
// as float ONNX (opset 13), TFLite (float32, or full-integer int8 calibrated on representative
// images) or Keras .h5 weights (model.save_weights layout). The writers live in @mnv2/core; this command finds the weights,
// calibrates on the GPU, checks the target first and writes atomically.
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import {
  activationRanges,
  CALIBRATION_METHODS,
  calibrateBatch,
  emptyRoundingMoments,
  channelMeans,
  encodeOnnxModel,
  encodeTflite,
  kerasBaseModelName,
  kerasLayerSpecs,
  tutorialModelH5,
  writeKerasH5,
  MobileNetV2Net,
  mobileNetV2Onnx,
  mobileNetV2Tflite,
  parseSafetensors,
  prepareImages,
  type ActivationHistograms,
  type ActivationRanges,
  type CalibrationMethod,
  type RoundingMoments,
  type CalibrationHead,
  type ChannelSums,
  type Engine,
  type RgbImage,
  type WeightMap,
} from '@mnv2/core';
import { writeAtomic } from '../util/atomic-write.js';
import { loadClassifierWeights } from '../weights/load.js';
import { classifierWeights } from '../weights/auto.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { readRun } from '../run/load-run.js';

const HELP = `mnv2 export (--onnx FILE | --tflite FILE | --keras-h5 FILE) [WEIGHTS | RUN-DIR] [options] [--force]

Writes MobileNetV2 as a file other runtimes load. WEIGHTS: a trained run folder (mnv2 train --out
DIR) or its model.safetensors, or any classifier weights 'mnv2 classify' reads (.tflite, Keras .h5,
.safetensors). Default: the classifier that 'mnv2 classify' would use.

  --onnx FILE      float ONNX (opset 13, batch dimension 'N')
    --nchw         input [N,3,H,W] (PyTorch/ONNX convention); default [N,H,W,3] like Keras
    --fold-bn      fold BatchNorm into the convolutions (as tf2onnx does)
  --tflite FILE    TFLite (LiteRT) flatbuffer, batch 1, input [1,H,W,3]: float32 by default
    --int8         full-integer int8 post-training quantization, as TFLite's converter does it:
                   weights int8 per output channel (convolutions) / per tensor (dense), int32
                   biases, activations int8 per tensor from ranges measured on representative images
    --calibration PATH   images or folders to calibrate on (default for a run: its training images)
    --calibration-size N how many of them (default 100, picked with --seed)
    --input-type T       int8 (default) or uint8: uint8 takes raw pixel values 0..255
    --output-type T      int8 (default) or uint8
    --no-bias-correction biases exactly as TFLite's converter sets them; by default each conv bias
                         also absorbs the mean error its int8 weights make on the calibration images
    --weight-rounding R  how float weights become int8 codes (scales stay max|w|/127 per channel):
                         adaptive (default): each depthwise channel's 9 weights rounded up or down,
                           whichever of the 512 choices errs least on the calibration images' 3x3
                           patches (where MobileNetV2's int8 error comes from). Measured on float
                           weights: logit error 12-15 % lower on the ImageNet sample, agreement
                           with float 63 -> 64 of 65 on an alpaca run
                         gptq: adaptive, and the pointwise layers' rows rounded one input at a
                           time, each error passed on to the weights not yet rounded (GPTQ, on
                           the input covariance): slower (covariances of every pointwise input),
                           and measured no better than adaptive on MobileNetV2
                         nearest: round to the nearest code, as TFLite's converter does
    --calibration-method M  how each activation's int8 range is chosen (the logits always keep
                         their min/max: clipping the top one would tie classes):
                         minmax (default): the smallest and largest value seen, as TFLite's
                           converter does: nothing is clipped; the safe choice
                         mse: the clip with the least expected squared error of the values seen
                           (a 2048-bin histogram per tensor): tighter ranges where an activation
                           has a long tail; on MobileNetV2 measured on par with minmax (logit
                           error 1-8 % lower in most runs, top-1 within noise): worth a try when
                           int8 and float disagree
                         percentile: each side clipped where --percentile P of the values lie
                           inside (default 99.99): for activations that a rare outlier image
                           stretches; measured worse on MobileNetV2 (its ReLU6 ranges are
                           bounded already, and the clipped tails matter)
    --percentile P       for --calibration-method percentile (e.g. 99.9, 99.99, 99.999)
  --keras-h5 FILE  Keras weights (model.save_weights layout): a run as the transfer-learning
                   tutorial's model (nested MobileNetV2 base + head; load it into that model with
                   base_model.trainable = False, see docs/KERAS.md), pretrained weights as Keras'
                   MobileNetV2 with top (Keras layer names)
  --softmax        output probabilities instead of logits (multi-class heads)
  --seed N         seed for picking calibration images (default 1)
  --force          overwrite FILE if it exists

Input: images resized to the model's size, scaled to [-1, 1] (x / 127.5 - 1); quantized inputs take
codes of scale 2/255 (uint8: the raw pixels; int8: pixel - 128).
Examples:
  mnv2 export --onnx alpaca.onnx runs/alpaca
  mnv2 export --tflite alpaca_int8.tflite runs/alpaca --int8 --input-type uint8 --output-type uint8`;

/** Defaults of the int8 calibration (chosen by the figures of bench/results/export-tflite-lavapipe.md). */
const DEFAULT_METHOD: CalibrationMethod = 'minmax';
const DEFAULT_PERCENTILE = 99.99;
const DEFAULT_ROUNDING = 'adaptive';

interface ExportSource {
  weights: WeightMap;
  alpha: number;
  inputSize: number;
  classes: number;
  denseName: string;
  hidden: number | null;
  what: string;
  /** A run's training split, for calibration. */
  run?: { dataDir: string; valSplit: number; seed: number };
  /** Trained by 'mnv2 train' (the tutorial's model: base + head); whether it had the augmentation layers. */
  trained?: { augmentation: boolean };
}

const RUN_HINT = "pass the --out folder of 'mnv2 train' (it holds model.safetensors once the first epoch is done)";

async function trainedModelFile(file: string): Promise<ExportSource> {
  const st = parseSafetensors(await readFile(file), file);
  const m = st.metadata;
  const alpha = Number(m.alpha);
  const inputSize = Number(m.input_size);
  if (!(alpha > 0) || !(inputSize >= 32)) throw new Error(`export: ${file} lacks alpha/input_size metadata (was it written by mnv2 train?)`);
  const denseName = st.weights.has('dense/kernel') && !st.weights.has('dense_1/kernel') ? 'dense' : st.weights.has('dense_1/kernel') ? 'dense_1' : 'predictions';
  const bias = st.weights.get(`${denseName}/bias`);
  if (!bias) throw new Error(`export: ${file} has no classifier head (${denseName}/bias)`);
  const hidden = denseName === 'dense_1' ? (st.weights.get('dense/bias')?.data.length ?? null) : null;
  return { weights: st.weights, alpha, inputSize, classes: bias.data.length, denseName, hidden, what: `trained model ${file}`, trained: { augmentation: false } };
}

async function runFolder(dir: string): Promise<ExportSource> {
  const run = await readRun(dir, 'export');
  const cfg = JSON.parse(await readFile(join(run.dir, 'config.json'), 'utf8')) as { dataDir?: unknown; valSplit?: unknown; seed?: unknown; augment?: unknown };
  const data = typeof cfg.dataDir === 'string' ? { dataDir: cfg.dataDir, valSplit: Number(cfg.valSplit ?? 0.2), seed: Number(cfg.seed ?? 42) } : undefined;
  return { weights: run.weights, alpha: run.alpha, inputSize: run.imageSize, classes: run.classes, denseName: run.denseName, hidden: run.hidden, what: `trained run ${run.dir}`, run: data, trained: { augmentation: !!cfg.augment } };
}

async function source(arg: string | undefined): Promise<ExportSource> {
  const path = arg ? resolve(arg) : (await classifierWeights(undefined, 'export')).path;
  if (arg && !existsSync(path)) throw new Error(`export: '${path}' does not exist: ${RUN_HINT}, or name a weights file`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'config.json'))) {
      if (!existsSync(join(path, 'model.safetensors'))) throw new Error(`export: the run folder '${path}' has no model.safetensors yet (a run writes it after its first epoch): train it first, or ${RUN_HINT}`);
      return runFolder(path);
    }
    if (existsSync(join(path, 'model.safetensors'))) return trainedModelFile(join(path, 'model.safetensors'));
  }
  if (path.endsWith('.safetensors')) {
    const st = parseSafetensors(await readFile(path), path);
    if (st.metadata.alpha !== undefined) return trainedModelFile(path);
  }
  const w = await loadClassifierWeights(path);
  return { weights: w.weights, alpha: w.info.alpha, inputSize: w.info.inputSize, classes: w.info.classes, denseName: 'predictions', hidden: null, what: w.description };
}

/** Refuses a target that cannot be written before any work is done (nothing is written on failure). */
function checkTarget(out: string, force: boolean): void {
  if (existsSync(out)) {
    if (statSync(out).isDirectory()) throw new Error(`export: '${out}' is a folder: name a file inside it`);
    if (!force) throw new Error(`export: ${out} exists: pass --force to overwrite it`);
  }
  const dir = dirname(out);
  if (!existsSync(dir)) throw new Error(`export: the folder '${dir}' does not exist: create it first, or choose another file`);
  // A real probe (access() says yes to root even where nothing can be created, e.g. /sys).
  const probe = join(dir, `.mnv2-export-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe);
  } catch {
    throw new Error(`export: cannot write into '${dir}' (read-only or no permission): choose a writable folder for the file`);
  }
}

const weightOf = (src: ExportSource) => (name: string) => {
  const t = src.weights.get(name);
  if (!t) throw new Error(`export: the weights have no tensor '${name}'`);
  return t.data;
};

/** Representative images: --calibration paths, else a sample of the run's training split. */
async function calibrationImages(src: ExportSource, paths: string[], count: number, seed: number): Promise<{ images: () => AsyncIterable<RgbImage[]>; what: string; n: number }> {
  const pick = <T>(all: T[]): T[] => {
    // seeded Fisher–Yates: the same sample for the same seed
    let s = seed >>> 0 || 1;
    const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const a = [...all];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a.slice(0, Math.min(count, a.length));
  };
  const BATCH = 8;
  if (paths.length) {
    const { decodeImage, IMAGE_EXTENSIONS } = await import('../data/decode.js');
    const isImage = (f: string) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase());
    // Files, or folders walked recursively (a dataset with class sub-folders is fine).
    const walk = (p: string): string[] => {
      if (!existsSync(p)) throw new Error(`export: --calibration '${p}' does not exist`);
      if (!statSync(p).isDirectory()) return [p];
      return readdirSync(p).sort().flatMap((n) => {
        const q = join(p, n);
        return statSync(q).isDirectory() ? walk(q) : isImage(n) ? [q] : [];
      });
    };
    const all = paths.flatMap((p) => walk(resolve(p)));
    if (!all.length) throw new Error(`export: no images (${IMAGE_EXTENSIONS.join(' ')}) in ${paths.join(', ')}`);
    const files = pick(all);
    return {
      n: files.length,
      what: `${files.length} image${files.length === 1 ? '' : 's'} from ${paths.join(', ')}`,
      images: async function* () {
        for (let i = 0; i < files.length; i += BATCH) yield Promise.all(files.slice(i, i + BATCH).map((f) => decodeImage(f)));
      },
    };
  }
  if (!src.run) throw new Error('export: --int8 needs representative images to calibrate on: pass --calibration DIR (a folder of images like those the model will see)');
  const { dataDir, valSplit, seed: splitSeed } = src.run;
  if (!existsSync(dataDir)) throw new Error(`export: the run's training data '${dataDir}' is gone: pass --calibration DIR (images like those it was trained on)`);
  const { openDataset } = await import('../data/open-dataset.js');
  const ds = await openDataset(dataDir, { validationSplit: valSplit, seed: splitSeed });
  const idx = pick(Array.from({ length: ds.trainCount }, (_, i) => i));
  return {
    n: idx.length,
    what: `${idx.length} of the run's ${ds.trainCount} training images (${dataDir})`,
    images: async function* () {
      for (let i = 0; i < idx.length; i += BATCH) yield (await ds.train.load(idx.slice(i, i + BATCH))).filter((x): x is RgbImage => x !== null);
    },
  };
}

async function calibrate(e: Engine, src: ExportSource, calib: Awaited<ReturnType<typeof calibrationImages>>, rounding: string): Promise<{ ranges: ActivationRanges; sums: ChannelSums; hists: ActivationHistograms; moments: RoundingMoments }> {
  const weight = weightOf(src);
  const net = new MobileNetV2Net(e, { alpha: src.alpha, inputSize: src.inputSize, weights: (name) => src.weights.get(name)?.data });
  const head: CalibrationHead = { classes: src.classes, hidden: src.hidden, hiddenName: 'dense', denseName: src.denseName, weight };
  const ranges: ActivationRanges = new Map();
  const sums: ChannelSums = new Map();
  const hists: ActivationHistograms = new Map();
  const moments = emptyRoundingMoments();
  let done = 0;
  for await (const imgs of calib.images()) {
    if (!imgs.length) continue;
    const x = prepareImages(e, imgs, { size: src.inputSize, crop: 'none', preprocess: 'tf' });
    try {
      // Input moments for adaptive rounding: depthwise patches; pointwise covariances only for gptq.
      await calibrateBatch(e, net, head, x, ranges, sums, hists, rounding === 'nearest' ? undefined : moments, rounding === 'gptq');
    } finally {
      x.dispose();
    }
    done += imgs.length;
    if (process.stderr.isTTY) process.stderr.write(`\r[mnv2] calibrating: ${done}/${calib.n} images`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (done === 0) throw new Error(`export: none of the calibration images could be decoded (${calib.what})`);
  return { ranges, sums, hists, moments };
}

export async function exportModel(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(
    argv,
    { values: ['onnx', 'tflite', 'keras-h5', 'calibration', 'calibration-size', 'calibration-method', 'percentile', 'weight-rounding', 'input-type', 'output-type', 'seed'], booleans: ['nchw', 'softmax', 'fold-bn', 'force', 'int8', 'no-bias-correction'] },
    'export',
  );
  const targets = (['onnx', 'tflite', 'keras-h5'] as const).filter((f) => args.flags.has(f));
  if (targets.length !== 1) throw new Error(`export: pass one of --onnx FILE, --tflite FILE or --keras-h5 FILE (see 'mnv2 export --help')`);
  const format = targets[0];
  const out = args.flags.get(format);
  if (typeof out !== 'string') throw new Error(`export: --${format} needs a file name`);
  const weightsArgs = args.positionals;
  if (weightsArgs.length > 1) throw new Error('export: give at most one weights path or run folder');
  const outPath = resolve(out);
  checkTarget(outPath, args.flags.has('force'));
  const src = await source(weightsArgs[0]);
  const softmax = args.flags.has('softmax');
  if (softmax && src.classes < 2) throw new Error('export: --softmax needs a multi-class head; this model has one output (binary: apply a sigmoid)');

  let bytes: Uint8Array;
  let summary: string;
  if (format === 'onnx') {
    const graph = mobileNetV2Onnx({
      alpha: src.alpha,
      inputSize: src.inputSize,
      batch: 'N',
      weight: weightOf(src),
      head: { classes: src.classes, hidden: src.hidden ?? undefined, denseName: src.denseName, softmax },
      foldBatchNorm: args.flags.has('fold-bn'),
      inputLayout: args.flags.has('nchw') ? 'nchw' : 'nhwc',
    });
    bytes = encodeOnnxModel(graph);
    const layout = args.flags.has('nchw') ? `[N,3,${src.inputSize},${src.inputSize}]` : `[N,${src.inputSize},${src.inputSize},3]`;
    summary = `input ${layout} in [-1,1], ${src.classes} ${softmax ? 'probabilities' : 'logits'}`;
  } else if (format === 'keras-h5') {
    if (softmax) throw new Error('export: --softmax does not apply to --keras-h5 (weights only: the activation is part of the Keras model code)');
    if (src.trained) {
      bytes = await tutorialModelH5(src.weights, { alpha: src.alpha, inputSize: src.inputSize, classes: src.classes, hidden: src.hidden, denseName: src.denseName, augmentation: src.trained.augmentation });
      summary = `Keras weights of the tutorial model (${kerasBaseModelName(src.alpha, src.inputSize)} base + ${src.hidden ? `dense(${src.hidden}, relu) + ` : ''}${src.denseName}(${src.classes}))`;
    } else {
      bytes = await writeKerasH5(kerasLayerSpecs(src.weights, { alpha: src.alpha, inputSize: src.inputSize, includeTop: true, classes: src.classes }));
      summary = `Keras weights of MobileNetV2 with a ${src.classes}-class top (MobileNetV2(weights=FILE))`;
    }
  } else {
    const int8 = args.flags.has('int8');
    const ioType = (name: 'input-type' | 'output-type') => {
      const v = args.flags.get(name) ?? 'int8';
      if (v !== 'int8' && v !== 'uint8') throw new Error(`export: --${name} must be int8 or uint8, got '${String(v)}'`);
      if (!int8 && args.flags.has(name)) throw new Error(`export: --${name} applies to --int8 models only`);
      return v;
    };
    const inputType = ioType('input-type');
    const outputType = ioType('output-type');
    if (!int8) for (const f of ['calibration', 'calibration-size', 'calibration-method', 'percentile', 'weight-rounding']) if (args.flags.has(f)) throw new Error(`export: --${f} applies to --int8 only`);
    let quantize;
    let calibWhat = '';
    if (int8) {
      const count = numberFlag(args, 'calibration-size', 100, 'export');
      if (!Number.isInteger(count) || count < 1) throw new Error(`export: --calibration-size must be a positive integer, got ${count}`);
      const seed = numberFlag(args, 'seed', 1, 'export');
      const method = args.flags.get('calibration-method') ?? DEFAULT_METHOD;
      if (!CALIBRATION_METHODS.includes(method as CalibrationMethod)) throw new Error(`export: --calibration-method must be one of ${CALIBRATION_METHODS.join(', ')}, got '${String(method)}'`);
      const percentile = numberFlag(args, 'percentile', DEFAULT_PERCENTILE, 'export');
      if (!(percentile > 50 && percentile <= 100)) throw new Error(`export: --percentile must be above 50 and at most 100 (e.g. 99.99), got ${percentile}`);
      const rounding = args.flags.get('weight-rounding') ?? DEFAULT_ROUNDING;
      if (rounding !== 'nearest' && rounding !== 'adaptive' && rounding !== 'gptq') throw new Error(`export: --weight-rounding must be adaptive, gptq or nearest, got '${String(rounding)}'`);
      if (args.flags.has('percentile') && method !== 'percentile') throw new Error(`export: --percentile applies to --calibration-method percentile only`);
      const cal = args.flags.get('calibration');
      const calib = await calibrationImages(src, typeof cal === 'string' ? [cal] : [], count, seed);
      const { createNodeEngine } = await import('../node-gpu.js');
      const { engine } = await createNodeEngine();
      const t0 = performance.now();
      const cal0 = await calibrate(engine, src, calib, rounding);
      // The logits keep their min/max: clipping the largest would tie the top classes.
      const ranges = activationRanges(cal0.ranges, cal0.hists, method as CalibrationMethod, { percentile, keepMinMax: [src.denseName] });
      const how = `${method === 'percentile' ? `percentile ${percentile}` : method} activation ranges, ${rounding} weight rounding`;
      calibWhat = `; calibrated on ${calib.what} (${how}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
      // Bias correction on by default (measured: bench/results/export-tflite-lavapipe.md).
      quantize = {
        ranges,
        inputType,
        outputType,
        means: args.flags.has('no-bias-correction') ? undefined : channelMeans(cal0.sums),
        moments: rounding === 'nearest' ? undefined : cal0.moments,
      } as const;
    }
    const graph = mobileNetV2Tflite({
      alpha: src.alpha,
      inputSize: src.inputSize,
      weight: weightOf(src),
      head: { classes: src.classes, hidden: src.hidden, hiddenName: 'dense', denseName: src.denseName, softmax },
      quantize,
    });
    bytes = encodeTflite(graph);
    const S = src.inputSize;
    summary = int8
      ? `full-integer int8, input ${inputType} [1,${S},${S},3] (scale 2/255), ${src.classes} ${outputType} ${softmax ? 'probabilities' : 'logits'}${calibWhat}`
      : `float32, input [1,${S},${S},3] in [-1,1], ${src.classes} ${softmax ? 'probabilities' : 'logits'}`;
  }
  // Atomic: a crash never leaves a half-written model where a good one was.
  await writeAtomic(outPath, bytes);
  console.log(`[mnv2] wrote ${outPath} (${(bytes.length / 2 ** 20).toFixed(1)} MiB): MobileNetV2 alpha ${src.alpha}, ${summary}; from ${src.what}`);
  return 0;
}
