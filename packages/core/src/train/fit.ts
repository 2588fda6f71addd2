// The Keras `model.fit` loop of the transfer-learning tutorial, as events (core never prints):
//   per epoch: seeded shuffle of the training samples; per batch: images resized on the GPU to
//   imageSize and scaled to [-1, 1] (MobileNetV2 preprocess_input), RandomFlip('horizontal') +
//   RandomRotation(0.2) in training (seeded), forward/backward/optimizer (`trainStep`, BN in
//   inference mode = Keras `base(x, training=False)`); then validation without augmentation.
//
// Two kinds of cache, all paged (no buffer above the binding limit) and bounded by a byte budget
// (`CacheBudget`, shared by a run's caches); a 'plan' event says which path each took and why:
//  - inputs (`ImageBatches`, data/image-batches.ts): each image decoded and resized once and kept as
//    uint8 rows (the resize is deterministic; augmentation runs after it); above the budget images
//    are decoded per batch (streaming), `prefetch` batches ahead overlapping the GPU work.
//  - features: with augmentation off, the frozen part of the base is a fixed function of the image
//    (BatchNorm in inference mode), so it runs once per image: with the whole base frozen its
//    pooled output [N, C] is cached and the head alone trains on it (dropout and the Dense layers
//    run per step, as in Keras); when fine-tuning from block b, the activation entering block b is
//    cached and each step runs blocks b.. only. Above the budget the frozen part is recomputed per
//    batch (same math, no cache). `FitEpochEvent.featureCache` says when the cache was used.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { augment } from '../ops/image/index.js';
import { ImageBatches, describePlan, type CachePlan } from '../data/image-batches.js';
import { CacheBudget, bindingLimitOf } from '../data/paged-rows.js';
import { FrozenCache } from '../data/frozen-cache.js';
import { Prefetcher, type PrefetchedLoad } from '../data/prefetch.js';
import { accuracy } from '../ops/loss/index.js';
import { cast, globalAvgPool, globalMaxPool } from '../ops/elementwise/index.js';
import type { Optimizer } from '../ops/optim/index.js';
import type { MobileNetV2Net } from '../nn/mobilenet-v2.js';
import { expectedWeights, withKerasShapes, type WeightMap } from '../io/weight-map.js';
import { epochOrder } from '../data/folder-dataset.js';
import { lossAndGrad, trainStep, type LossKind } from './step.js';
import { checkStepMemory } from '../model/memory.js';
import type { LearningRateSchedule } from './schedules.js';

export { ImageBatches, describePlan, type FitImage, type ImageSplitSource, type ImageBatchesOptions, type Batch, type CachePlan } from '../data/image-batches.js';
export { CacheBudget, PagedRows, bindingLimitOf, formatBytes } from '../data/paged-rows.js';
export { quantizeRowsU8, rowsU8ToF32, wordsPerRow } from '../data/u8-rows.js';

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
  /** Budget of the feature/prefix caches when no shared `cacheBudget` is given (bytes, default 1 GiB); above it they are recomputed per step. */
  featureCacheBudgetBytes?: number;
  /** One budget shared with the input caches (see `ImageBatchesOptions.budget`); what is left of it bounds the feature caches. */
  cacheBudget?: CacheBudget;
  /** Largest page of the feature caches (default and upper bound: the engine's binding limit). */
  maxPageBytes?: number;
  /** Batches decoded ahead when streaming (default 2). */
  prefetch?: number;
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
  | { type: 'cache'; what: 'inputs' | 'features'; split: 'train' | 'validation'; done: number; total: number; pages?: number }
  /** Which path a cache took and why (`message` is one line for the run log). `split` 'all' = both splits. */
  | { type: 'plan'; split: 'train' | 'validation' | 'all'; plan: CachePlan; message: string }
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

/** Shape of one row of the frozen computation: pooled base output [1, 1, C] or the activation entering blocks[b]. */
function frozenRowShape(net: MobileNetV2Net, kind: 'features' | 'prefix', b: number): number[] {
  if (kind === 'features') return [1, 1, net.arch.lastChannels];
  let s = Math.ceil(net.inputSize / 2); // the stem has stride 2 ('same' and 'symmetric' agree)
  for (let i = 0; i < b; i++) s = Math.ceil(s / net.arch.blocks[i].stride);
  const c = b < net.arch.blocks.length ? net.arch.blocks[b].inChannels : net.arch.blocks[net.arch.blocks.length - 1].outChannels;
  return [s, s, c];
}

/** A batch loss this many times the first one of a fit (and at least this large) counts as divergence. */
export const EXPLODED_LOSS = 1000;

/** Trains `net` (its head, plus any base layers marked trainable) on `data`; yields progress and per-epoch metrics. */
export async function* fit(e: Engine, net: MobileNetV2Net, data: FitData, opts: FitOptions): AsyncGenerator<FitEvent> {
  const head = net.head;
  if (!head) throw new Error('fit: the network needs a classifier head');
  // A batch whose largest activation exceeds the device's largest buffer (or whose step exceeds its
  // memory, when known) is refused here, with the largest batch that fits, before any work.
  const trains = net.convUnits().some((u) => u.params().some((p) => p.trainable)) ? 'fine-tuning' : 'frozen base';
  checkStepMemory(e, net, opts.batchSize, { training: true, augment: !!opts.augment, what: `fit: a training step at ${net.inputSize}x${net.inputSize} (${trains})`, batchFlag: 'batchSize' });
  const baseFrozen = net.convUnits().every((u) => u.params().every((p) => !p.trainable));
  const cacheAllowed = (opts.featureCache ?? true) && !opts.augment;
  // Without augmentation the frozen part is a fixed function of the image: with the whole base frozen
  // its pooled output trains the head ('features'); fine-tuning from block b, the activation entering
  // block b ('prefix'). Cached when it fits the budget, else recomputed per batch.
  const fromBlock = net.firstTrainableBlock();
  const frozenKind: 'features' | 'prefix' | null = cacheAllowed ? (baseFrozen ? 'features' : fromBlock > 0 ? 'prefix' : null) : null;
  const depth = Math.max(0, opts.prefetch ?? 2);

  for (const [split, d] of [['train', data.train], ['validation', data.validation]] as const) {
    if (!d) continue;
    yield { type: 'plan', split, plan: d.plan, message: `inputs (${split}): ${describePlan(d.plan)}` };
    for await (const p of d.fill()) yield { type: 'cache', what: 'inputs', split, ...p };
    if (d.skipped.size) yield { type: 'skipped', split, indices: [...d.skipped] };
  }

  const fBudget = opts.cacheBudget ?? new CacheBudget(opts.featureCacheBudgetBytes ?? 2 ** 30);
  const pageBytes = Math.min(opts.maxPageBytes ?? Infinity, bindingLimitOf(e));
  const frozen = frozenKind ? new FrozenCache(e, fBudget, frozenKind, frozenRowShape(net, frozenKind, fromBlock), [data.train.usable().length, data.validation?.usable().length ?? 0], pageBytes) : null;
  if (frozen) yield { type: 'plan', split: 'all', plan: frozen.plan, message: `${frozenKind === 'features' ? 'frozen base' : `frozen layers below block ${fromBlock}`}: ${describePlan(frozen.plan)}` };
  const featureCached = frozen?.cached ?? false;
  /** Where a step's input enters the network: the head (cached pooled features), a block (cached prefix), or the image. */
  const entry = frozenKind === 'features' ? ('head' as const) : frozenKind === 'prefix' ? fromBlock : undefined;

  const compute =
    frozenKind === 'features'
      ? (x: Tensor) => {
          const f = baseForward(e, net, x);
          const p = cast(e, head.spec.pooling === 'max' ? globalMaxPool(e, f) : globalAvgPool(e, f), 'f32'); // caches hold f32 (f16 activations widened)
          return p.reshape([p.shape[0], 1, 1, p.shape[p.shape.length - 1]]);
        }
      : (x: Tensor) => cast(e, net.prefixForward(e, x, fromBlock), 'f32');
  /** The network input of these samples: cached features, or images (+ the frozen part run now). */
  async function input(d: ImageBatches, split: 'train' | 'validation', ids: number[], pre: PrefetchedLoad): Promise<{ x: Tensor; labels: number[]; skipped: number[] }> {
    if (frozen?.cached) return { x: frozen.gather(split, ids), labels: ids.map((i) => d.source.labels[i]), skipped: [] };
    const b = await d.batch(ids, pre);
    if (!frozenKind || b.labels.length === 0) return b;
    const x = e.tidy(() => {
      const f = compute(b.x);
      if (frozenKind === 'prefix') return f;
      const own = e.alloc(f.shape); // the pooled features are a view: keep a tensor of their own past the scope
      e.copy(f, own, f.bytes);
      return own;
    });
    b.x.dispose();
    return { ...b, x };
  }

  // A smaller batch (the last of an epoch or of validation) runs in the full batch's idle buffers.
  const reuse = e.batches;

  try {
    if (frozen?.cached) {
      const o = { batchSize: opts.batchSize, prefetch: depth };
      for (const [split, d] of [['train', data.train], ['validation', data.validation]] as const) {
        if (d) for await (const p of frozen.build(d, split, o, compute)) yield { type: 'cache', what: 'features', split, ...p };
      }
    }

    let firstLoss: number | undefined;
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
      const pre = new Prefetcher(data.train, slice, s0, featureCached ? s0 : steps, depth);
      for (let s = s0; s < steps; s++) {
        if (opts.lrSchedule) opts.optimizer.learningRate = opts.lrSchedule(opts.optimizer.iterations);
        reuse.begin(slice(s).length); // before its input is made: a partial batch's tensors too reuse idle buffers
        const b = await input(data.train, 'train', slice(s), pre.take(s));
        if (b.skipped.length) yield { type: 'skipped', split: 'train', indices: b.skipped };
        const { x, labels } = b;
        reuse.shrunk(labels.length); // undecodable images made it smaller
        if (labels.length === 0) {
          x.dispose();
          continue;
        }
        const y = labelTensor(e, opts.loss, labels);
        const stepSeed = mix(opts.seed, epoch, s);
        // BatchNorm in inference mode (Keras `base(x, training=False)`); augmentation only on images.
        const xin = opts.augment ? e.tidy(() => augment(e, x, { flip: opts.augment!.flip, rotation: opts.augment!.rotation, seed: stepSeed })) : x;
        const r = trainStep(e, net, opts.optimizer, xin, y, { loss: opts.loss, seed: stepSeed, bnInference: true, fromBlock: entry });
        if (xin !== x) xin.dispose();
        const lossV = (await r.loss.read())[0];
        const corr = (await r.correct.read())[0];
        r.loss.dispose();
        r.correct.dispose();
        x.dispose();
        y.dispose();
        reuse.end();
        // Diverged: a non-finite loss, or one exploded far past where this fit started (a huge
        // learning rate can keep the loss finite at 1e36 while the weights are already garbage).
        firstLoss ??= lossV;
        if (!Number.isFinite(lossV) || lossV > Math.max(EXPLODED_LOSS, EXPLODED_LOSS * firstLoss)) {
          await pre.drain();
          yield { type: 'diverged', epoch, step: s, loss: lossV };
          return;
        }
        lossSum += lossV * labels.length; // Keras weights the batch mean by the batch size
        correct += corr;
        seen += labels.length;
        yield { type: 'batch', phase: 'train', epoch, step: s + 1, steps, images: seen, loss: lossSum / seen, seconds: (Date.now() - t0) / 1000 };
        if (s + 1 < steps && opts.shouldStop?.()) {
          await pre.drain(); // let the prefetches finish before returning
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
        const vpre = new Prefetcher(v, vslice, 0, featureCached ? 0 : vsteps, depth);
        for (let s = 0; s < vsteps; s++) {
          reuse.begin(vslice(s).length);
          const b = await input(v, 'validation', vslice(s), vpre.take(s));
          if (b.skipped.length) yield { type: 'skipped', split: 'validation', indices: b.skipped };
          const { x, labels } = b;
          reuse.shrunk(labels.length);
          if (labels.length === 0) {
            x.dispose();
            continue;
          }
            const y = labelTensor(e, opts.loss, labels);
          const r = e.tidy(() => {
            const ctx = { training: false };
            const logits = entry === undefined ? net.forward(e, x, ctx) : net.forwardFrom(e, x, entry, ctx);
            const { loss } = lossAndGrad(e, opts.loss, logits, y);
            return { loss, correct: accuracy(e, logits, y) };
          });
          const lv = (await r.loss.read())[0];
          vc += (await r.correct.read())[0];
          r.loss.dispose();
          r.correct.dispose();
          x.dispose();
          y.dispose();
          reuse.end();
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
        featureCache: featureCached,
      };
    }
  } finally {
    reuse.end();
    frozen?.dispose();
  }
}

/** Every parameter of the network by Keras name, with Keras shapes (for `serializeSafetensors`). */
export async function networkWeights(net: MobileNetV2Net): Promise<WeightMap> {
  const map: WeightMap = new Map();
  for (const p of net.params()) map.set(p.name, { shape: [...p.value.shape], data: await p.value.read() });
  return withKerasShapes(map, expectedWeights(net.arch.alpha, net.inputSize, false));
}
