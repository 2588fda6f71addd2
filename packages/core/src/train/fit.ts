// The Keras `model.fit` loop of the transfer-learning tutorial, as events (core never prints):
//   per epoch: seeded shuffle of the training samples; per batch: images resized on the GPU to
//   imageSize and scaled to [-1, 1] (MobileNetV2 preprocess_input), RandomFlip('horizontal') +
//   RandomRotation(0.2) in training (seeded), forward/backward/optimizer (`trainStep`, BN in
//   inference mode = Keras `base(x, training=False)`); then validation without augmentation.
//
// Two caches:
//  - inputs: each image is decoded and resized once into a GPU tensor [N, S, S, 3] (the resize is
//    deterministic; augmentation runs after it), when it fits `cacheBudgetBytes`; otherwise images
//    are decoded per batch, the next batch's decode overlapping the GPU work of this one.
//  - features: with augmentation off, the frozen part of the base is a fixed function of the image
//    (BatchNorm in inference mode), so it runs once per image: with the whole base frozen its
//    pooled output [N, C] is cached and the head alone trains on it (dropout and the Dense layers
//    run per step, as in Keras); when fine-tuning from block b, the activation entering block b is
//    cached and each step runs blocks b.. only. `FitEpochEvent.featureCache` says when.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { resizeImages, uploadImagesU8, augment } from '../ops/image/index.js';
import { accuracy } from '../ops/loss/index.js';
import { globalAvgPool, globalMaxPool } from '../ops/elementwise/index.js';
import type { Optimizer } from '../ops/optim/index.js';
import type { MobileNetV2Net } from '../nn/mobilenet-v2.js';
import { kerasLayers } from '../nn/keras-layers.js';
import { expectedWeights, withKerasShapes, type WeightMap } from '../io/weight-map.js';
import { epochOrder } from '../data/folder-dataset.js';
import { lossAndGrad, trainStep, type LossKind } from './step.js';
import type { LearningRateSchedule } from './schedules.js';

/** An RGB uint8 image of any size (3 bytes per pixel, row-major). */
export interface FitImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** One split of a dataset: labels, and a loader that decodes images by index (null = undecodable, skipped). */
export interface ImageSplitSource {
  readonly labels: readonly number[];
  load(indices: readonly number[]): Promise<(FitImage | null)[]>;
}

export interface ImageBatchesOptions {
  imageSize: number;
  /** Keras `crop_to_aspect_ratio` (default false: the image is stretched, as Keras' default). */
  cropToAspect?: boolean;
  /** Cache resized inputs on the GPU when they take at most this many bytes (default 1 GiB; 0 = never). */
  cacheBudgetBytes?: number;
  /** Images decoded per load call while filling the cache (default 32). */
  chunk?: number;
}

export interface Batch {
  x: Tensor; // [B, S, S, 3] f32 in [-1, 1]
  labels: number[];
  /** Sample indices that could not be decoded (dropped from this batch). */
  skipped: number[];
}

/** A split's images as GPU batches: cached (resized once) or decoded per batch. */
export class ImageBatches {
  readonly size: number;
  private cache: Tensor | null = null;
  private row = new Map<number, number>(); // sample index → cache row
  /** Sample indices that could not be decoded (never in a batch). */
  readonly skipped = new Set<number>();
  readonly cached: boolean;

  constructor(
    private readonly e: Engine,
    readonly source: ImageSplitSource,
    readonly opts: ImageBatchesOptions,
  ) {
    this.size = opts.imageSize;
    const bytes = source.labels.length * this.size * this.size * 3 * 4;
    this.cached = bytes <= (opts.cacheBudgetBytes ?? 1 << 30);
  }

  get count(): number {
    return this.source.labels.length;
  }

  /** Indices of decodable samples (all, until the cache is built or a batch found a bad one). */
  usable(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (!this.skipped.has(i)) out.push(i);
    return out;
  }

  private resizeInto(img: FitImage, out: Tensor, outIndex: number): void {
    const src = uploadImagesU8(this.e, img.rgb, [1, img.height, img.width, 3]);
    resizeImages(this.e, src, { height: this.size, width: this.size, srcShape: [1, img.height, img.width, 3], crop: this.opts.cropToAspect ? 'aspect' : undefined, preprocess: 'tf', out, outIndex });
    src.dispose();
  }

  /** Decodes and resizes every image once (no-op when not cached). Yields progress (done, total). */
  async *fill(): AsyncGenerator<{ done: number; total: number }> {
    if (!this.cached || this.cache) return;
    const n = this.count;
    const chunk = this.opts.chunk ?? 32;
    const e = this.e;
    const tmp = e.allocPersistent([n, this.size, this.size, 3], 'f32', 'input-cache');
    let rows = 0;
    const range = (a: number) => Array.from({ length: Math.min(chunk, n - a) }, (_, i) => a + i);
    let next = n > 0 ? this.source.load(range(0)) : null;
    for (let a = 0; a < n; a += chunk) {
      const imgs = await next!;
      next = a + chunk < n ? this.source.load(range(a + chunk)) : null; // decode ahead while the GPU resizes
      imgs.forEach((img, k) => {
        const i = a + k;
        if (!img) {
          this.skipped.add(i);
          return;
        }
        this.resizeInto(img, tmp, rows);
        this.row.set(i, rows++);
      });
      await e.sync();
      yield { done: Math.min(a + chunk, n), total: n };
    }
    this.cache = tmp;
  }

  /** Starts decoding a batch (per-batch mode), for prefetch; pass the promise to `batch`. */
  prefetch(indices: readonly number[]): Promise<(FitImage | null)[]> | null {
    return this.cached ? null : this.source.load(indices);
  }

  /** The batch of these sample indices, as a tensor in the current tidy scope. */
  async batch(indices: readonly number[], prefetched?: Promise<(FitImage | null)[]> | null): Promise<Batch> {
    const e = this.e;
    const S = this.size;
    const per = S * S * 3 * 4;
    if (this.cached) {
      if (!this.cache) throw new Error('ImageBatches: call fill() before batch()');
      const keep = indices.filter((i) => this.row.has(i));
      const x = e.alloc([keep.length, S, S, 3]);
      keep.forEach((i, k) => e.copy(this.cache!, x, per, this.row.get(i)! * per, k * per));
      return { x, labels: keep.map((i) => this.source.labels[i]), skipped: indices.filter((i) => !this.row.has(i)) };
    }
    const imgs = await (prefetched ?? this.source.load(indices));
    const keep: number[] = [];
    const skipped: number[] = [];
    imgs.forEach((img, k) => (img ? keep.push(k) : (skipped.push(indices[k]), this.skipped.add(indices[k]))));
    const x = e.alloc([keep.length, S, S, 3]);
    keep.forEach((k, j) => this.resizeInto(imgs[k]!, x, j));
    return { x, labels: keep.map((k) => this.source.labels[indices[k]]), skipped };
  }

  dispose(): void {
    this.cache?.dispose();
    this.cache = null;
  }
}

// ---- fine-tuning -----------------------------------------------------------------------------

/**
 * Keras' fine-tuning recipe: `base.trainable = True; for layer in base.layers[:fineTuneAt]: layer.trainable = False`.
 * Layer indices are those of `kerasLayers` (the base, include_top=False: 154 layers, InputLayer = 0).
 * Returns the names of the base layers that now train. BN moving statistics never train.
 */
export function setFineTuneAt(net: MobileNetV2Net, fineTuneAt: number): string[] {
  const layers = kerasLayers({ alpha: net.arch.alpha, inputSize: net.inputSize, includeTop: false });
  if (!Number.isInteger(fineTuneAt) || fineTuneAt < 0 || fineTuneAt > layers.length) {
    throw new Error(`fine-tune-at must be a Keras layer index in [0, ${layers.length}] (the base has ${layers.length} layers), got ${fineTuneAt}`);
  }
  const train = new Set(layers.filter((l) => l.index >= fineTuneAt).map((l) => l.name));
  const base = new Set(net.convUnits().flatMap((u) => u.params()));
  for (const p of base) if (!p.name.includes('moving_')) p.trainable = train.has(p.layer);
  return layers.filter((l) => l.index >= fineTuneAt && l.weights.length > 0).map((l) => l.name);
}

// ---- the loop --------------------------------------------------------------------------------

export interface AugmentSpec {
  flip: boolean;
  rotation: number;
}

export interface FitOptions {
  epochs: number; // last epoch number (exclusive end), Keras `epochs`
  initialEpoch?: number; // Keras `initial_epoch` (fine-tuning continues the count)
  batchSize: number;
  loss: LossKind;
  optimizer: Optimizer;
  seed: number;
  /** RandomFlip('horizontal') + RandomRotation(rotation) in training; null = off. */
  augment: AugmentSpec | null;
  /** Cache what the frozen part of the base computes when allowed (no augmentation). Default true. */
  featureCache?: boolean;
  /** Largest frozen-prefix activation cache (all images, bytes; default 1 GiB); above it each step runs the whole base. */
  featureCacheBudgetBytes?: number;
  /** Sets the optimizer's learning rate before each step from its step count (e.g. `cosineDecay`). */
  lrSchedule?: LearningRateSchedule;
  /** Checked after every training step; true ends `fit` with an 'interrupted' event (e.g. on Ctrl-C). */
  shouldStop?: () => boolean;
  /** Continue `initialEpoch` after an interruption: skip its first `step` batches, keep the running totals. */
  resumeWithin?: EpochProgress;
}

/** Where an interrupted epoch stood: batches done and the running loss/accuracy sums. */
export interface EpochProgress {
  step: number;
  lossSum: number;
  correct: number;
  seen: number;
}

export type FitEvent =
  | { type: 'cache'; what: 'inputs' | 'features'; split: 'train' | 'validation'; done: number; total: number }
  | { type: 'batch'; phase: 'train' | 'validation'; epoch: number; step: number; steps: number; images: number; loss: number; seconds: number }
  | { type: 'skipped'; split: 'train' | 'validation'; indices: number[] }
  | {
      type: 'epoch';
      epoch: number; // 0-based
      loss: number;
      accuracy: number;
      valLoss: number | null;
      valAccuracy: number | null;
      seconds: number;
      trainImages: number;
      featureCache: boolean;
    }
  | { type: 'diverged'; epoch: number; step: number; loss: number }
  | ({ type: 'interrupted'; epoch: number } & EpochProgress);

export interface FitData {
  train: ImageBatches;
  validation: ImageBatches | null;
}

/** The network's base output (before the head) in inference mode. */
function baseForward(e: Engine, net: MobileNetV2Net, x: Tensor): Tensor {
  const ctx = { training: false };
  let h = net.stem.forward(e, x, ctx);
  for (const b of net.blocks) h = b.forward(e, h, ctx);
  return net.last.forward(e, h, ctx);
}

function labelTensor(e: Engine, kind: LossKind, labels: readonly number[]): Tensor {
  const t = kind === 'binary' ? e.upload(Float32Array.from(labels), [labels.length], 'f32') : e.upload(Int32Array.from(labels), [labels.length], 'i32');
  return t;
}

const mix = (seed: number, epoch: number, step: number) => (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35)) >>> 0;

interface FeatureCache {
  t: Tensor | null;
  rows: Map<number, number>;
  /** Shape of one row (one image). */
  rowShape: number[];
}

/** `compute(x)` of every usable image of a split, once, into a persistent tensor (row by sample index). */
async function* buildFeatures(e: Engine, data: ImageBatches, batchSize: number, split: 'train' | 'validation', out: FeatureCache, compute: (x: Tensor) => Tensor): AsyncGenerator<FitEvent> {
  const idx = data.usable();
  let row = 0;
  for (let a = 0; a < idx.length; a += batchSize) {
    const ids = idx.slice(a, a + batchSize);
    const b = await data.batch(ids);
    const kept = ids.filter((i) => !b.skipped.includes(i));
    if (kept.length) {
      e.tidy(() => {
        const f = compute(b.x);
        out.rowShape = f.shape.slice(1);
        out.t ??= e.allocPersistent([idx.length, ...out.rowShape], 'f32', `features-${split}`);
        const rowBytes = f.bytes / f.shape[0];
        e.copy(f, out.t, f.bytes, 0, row * rowBytes);
      });
      kept.forEach((i) => out.rows.set(i, row++));
    }
    b.x.dispose();
    await e.sync();
    yield { type: 'cache', what: 'features', split, done: Math.min(a + batchSize, idx.length), total: idx.length };
  }
}

/** Whether the activations entering `blocks[b]` of every image fit the input cache's budget. */
function prefixFits(net: MobileNetV2Net, b: number, data: FitData, opts: FitOptions): boolean {
  let s = Math.ceil(net.inputSize / 2); // the stem has stride 2 ('same' and 'symmetric' agree)
  for (let i = 0; i < b; i++) s = Math.ceil(s / net.arch.blocks[i].stride);
  const c = b < net.arch.blocks.length ? net.arch.blocks[b].inChannels : net.arch.blocks[net.arch.blocks.length - 1].outChannels;
  const n = data.train.count + (data.validation?.count ?? 0);
  return n * s * s * c * 4 <= (opts.featureCacheBudgetBytes ?? 1 << 30);
}

/** Trains `net` (its head, plus any base layers marked trainable) on `data`; yields progress and per-epoch metrics. */
export async function* fit(e: Engine, net: MobileNetV2Net, data: FitData, opts: FitOptions): AsyncGenerator<FitEvent> {
  const head = net.head;
  if (!head) throw new Error('fit: the network needs a classifier head');
  const baseFrozen = net.convUnits().every((u) => u.params().every((p) => !p.trainable));
  const cacheAllowed = (opts.featureCache ?? true) && !opts.augment;
  const useFeatures = cacheAllowed && baseFrozen;
  // Fine-tuning from block b without augmentation: cache the activation entering block b.
  const fromBlock = net.firstTrainableBlock();
  const usePrefix = cacheAllowed && !baseFrozen && fromBlock > 0 && prefixFits(net, fromBlock, data, opts);
  const cached = useFeatures || usePrefix;

  for (const [split, d] of [['train', data.train], ['validation', data.validation]] as const) {
    if (!d) continue;
    for await (const p of d.fill()) yield { type: 'cache', what: 'inputs', split, ...p };
    if (d.skipped.size) yield { type: 'skipped', split, indices: [...d.skipped] };
  }

  const trainF: FeatureCache = { t: null, rows: new Map(), rowShape: [] };
  const valF: FeatureCache = { t: null, rows: new Map(), rowShape: [] };
  const compute = useFeatures
    ? (x: Tensor) => {
        const f = baseForward(e, net, x);
        const p = head.spec.pooling === 'max' ? globalMaxPool(e, f) : globalAvgPool(e, f);
        return p.reshape([p.shape[0], 1, 1, p.shape[p.shape.length - 1]]);
      }
    : (x: Tensor) => net.prefixForward(e, x, fromBlock);
  if (cached) {
    yield* buildFeatures(e, data.train, opts.batchSize, 'train', trainF, compute);
    if (data.validation) yield* buildFeatures(e, data.validation, opts.batchSize, 'validation', valF, compute);
  }
  const gatherFeatures = (f: FeatureCache, ids: readonly number[]) => {
    const x = e.alloc([ids.length, ...f.rowShape]);
    const rowBytes = f.rowShape.reduce((a, b) => a * b, 1) * 4;
    ids.forEach((i, k) => e.copy(f.t!, x, rowBytes, f.rows.get(i)! * rowBytes, k * rowBytes));
    return x;
  };

  try {
    for (let epoch = opts.initialEpoch ?? 0; epoch < opts.epochs; epoch++) {
      const t0 = Date.now();
      const usable = new Set(data.train.usable());
      const order = epochOrder(data.train.count, opts.seed, epoch).filter((i) => usable.has(i));
      const steps = Math.ceil(order.length / opts.batchSize);
      const within = epoch === (opts.initialEpoch ?? 0) ? opts.resumeWithin : undefined;
      let lossSum = within?.lossSum ?? 0;
      let correct = within?.correct ?? 0;
      let seen = within?.seen ?? 0;
      const s0 = within?.step ?? 0;
      const slice = (s: number) => order.slice(s * opts.batchSize, (s + 1) * opts.batchSize);
      let pre = cached || s0 >= steps ? null : data.train.prefetch(slice(s0));
      for (let s = s0; s < steps; s++) {
        if (opts.lrSchedule) opts.optimizer.learningRate = opts.lrSchedule(opts.optimizer.iterations);
        const ids = slice(s);
        let x: Tensor;
        let labels: number[];
        if (cached) {
          x = gatherFeatures(trainF, ids);
          labels = ids.map((i) => data.train.source.labels[i]);
        } else {
          const b = await data.train.batch(ids, pre);
          if (b.skipped.length) yield { type: 'skipped', split: 'train', indices: b.skipped };
          x = b.x;
          labels = b.labels;
          pre = s + 1 < steps ? data.train.prefetch(slice(s + 1)) : null;
        }
        if (labels.length === 0) {
          x.dispose();
          continue;
        }
        const y = labelTensor(e, opts.loss, labels);
        const stepSeed = mix(opts.seed, epoch, s);
        let r: { loss: Tensor; correct: Tensor };
        if (useFeatures) {
          r = e.tidy(() => {
            head.recordForBackward = true;
            const logits = head.forward(e, x, { training: true, seed: stepSeed });
            const { loss, dlogits } = lossAndGrad(e, opts.loss, logits, y);
            const c = accuracy(e, logits, y);
            head.backward(e, dlogits, false);
            const ps = head.params().filter((p) => p.trainable && p.grad);
            opts.optimizer.step(e, ps.map((p) => ({ param: p.value, grad: p.grad!, key: p.name })));
            for (const p of ps) p.grad = null;
            return { loss, correct: c };
          });
        } else {
          const xin = opts.augment ? e.tidy(() => augment(e, x, { flip: opts.augment!.flip, rotation: opts.augment!.rotation, seed: stepSeed })) : x;
          r = trainStep(e, net, opts.optimizer, xin, y, { loss: opts.loss, seed: stepSeed, bnInference: true, fromBlock: usePrefix ? fromBlock : undefined });
          if (xin !== x) xin.dispose();
        }
        const lossV = (await r.loss.read())[0];
        const corr = (await r.correct.read())[0];
        r.loss.dispose();
        r.correct.dispose();
        x.dispose();
        y.dispose();
        if (!Number.isFinite(lossV)) {
          yield { type: 'diverged', epoch, step: s, loss: lossV };
          return;
        }
        lossSum += lossV * labels.length; // Keras weights the batch mean by the batch size
        correct += corr;
        seen += labels.length;
        yield { type: 'batch', phase: 'train', epoch, step: s + 1, steps, images: seen, loss: lossSum / seen, seconds: (Date.now() - t0) / 1000 };
        if (s + 1 < steps && opts.shouldStop?.()) {
          await pre; // let the prefetch finish before returning
          yield { type: 'interrupted', epoch, step: s + 1, lossSum, correct, seen };
          return;
        }
      }

      let valLoss: number | null = null;
      let valAccuracy: number | null = null;
      if (data.validation) {
        const v = data.validation;
        const ids = v.usable();
        let vl = 0;
        let vc = 0;
        let vn = 0;
        const vsteps = Math.ceil(ids.length / opts.batchSize);
        const vslice = (s: number) => ids.slice(s * opts.batchSize, (s + 1) * opts.batchSize);
        let vpre = cached ? null : v.prefetch(vslice(0));
        for (let s = 0; s < vsteps; s++) {
          const bi = vslice(s);
          let x: Tensor;
          let labels: number[];
          if (cached) {
            x = gatherFeatures(valF, bi);
            labels = bi.map((i) => v.source.labels[i]);
          } else {
            const b = await v.batch(bi, vpre);
            if (b.skipped.length) yield { type: 'skipped', split: 'validation', indices: b.skipped };
            x = b.x;
            labels = b.labels;
            vpre = s + 1 < vsteps ? v.prefetch(vslice(s + 1)) : null;
          }
          if (labels.length === 0) {
            x.dispose();
            continue;
          }
          const y = labelTensor(e, opts.loss, labels);
          const r = e.tidy(() => {
            const ctx = { training: false };
            const logits = useFeatures ? head.forward(e, x, ctx) : usePrefix ? net.forwardFrom(e, x, fromBlock, ctx) : net.forward(e, x, ctx);
            const { loss } = lossAndGrad(e, opts.loss, logits, y);
            return { loss, correct: accuracy(e, logits, y) };
          });
          const lv = (await r.loss.read())[0];
          vc += (await r.correct.read())[0];
          r.loss.dispose();
          r.correct.dispose();
          x.dispose();
          y.dispose();
          vl += lv * labels.length;
          vn += labels.length;
          yield { type: 'batch', phase: 'validation', epoch, step: s + 1, steps: vsteps, images: vn, loss: vl / vn, seconds: (Date.now() - t0) / 1000 };
        }
        valLoss = vn ? vl / vn : null;
        valAccuracy = vn ? vc / vn : null;
      }
      yield {
        type: 'epoch',
        epoch,
        loss: seen ? lossSum / seen : NaN,
        accuracy: seen ? correct / seen : NaN,
        valLoss,
        valAccuracy,
        seconds: (Date.now() - t0) / 1000,
        trainImages: seen,
        featureCache: cached,
      };
    }
  } finally {
    trainF.t?.dispose();
    valF.t?.dispose();
  }
}

/** Every parameter of the network by Keras name, with Keras shapes (for `serializeSafetensors`). */
export async function networkWeights(net: MobileNetV2Net): Promise<WeightMap> {
  const map: WeightMap = new Map();
  for (const p of net.params()) map.set(p.name, { shape: [...p.value.shape], data: await p.value.read() });
  return withKerasShapes(map, expectedWeights(net.arch.alpha, net.inputSize, false));
}
