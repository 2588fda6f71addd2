// BatchNormalization over the channels (last dim) of NHWC activations (any rank ≥ 2: [N,H,W,C] or
// [N,C]), Keras semantics: epsilon 1e-3, momentum 0.999 by default (MobileNetV2's values), moving
// statistics updated with the *biased* batch variance (Keras 3 ops.moments; tf.keras's fused path
// nets the same), gradients of gamma/beta in both modes.
//
// Dispatches (all recorded, nothing read back):
//   foldBatchNorm                 1  (batchnorm-fold)
//   batchNormInference            2  (fold for the scale, centered apply)
//   batchNormInferenceBackward    2  (reduce Σdŷ, Σdŷx̂ and write dx in the same pass; finalize)
//   batchNormTraining             3  (partial sums, finalize stats + moving update + scale, apply)
//   batchNormTrainingBackward     2  (partial sums reading x, dy; dx reading x, dy, folding the sums;
//                                     the ReLU6 mask recomputed from x, an f32 y not read) on small
//                                     tensors, 3 elsewhere (a finalize between them). Variant
//                                     'three-pass': 3 (partial sums, finalize, dx; reading y too)
//
// Tensors larger than one binding run in pages of whole samples (ops/paging.ts): the per-element
// passes page by page; the reductions write each page's partial sums into ONE partials buffer
// (one shift for all pages), so the finalize passes see the whole batch: statistics, moving
// averages and gradients equal the unpaged computation.
import {
  batchnormStats,
  batchnormStatsFinalize,
  batchnormFold,
  batchnormApply,
  batchnormBackward,
  batchnormBackwardFinalize,
  batchnormBackwardDx,
  batchnormBackwardSums,
  BN_BACKWARD_PARAM_ROWS,
  batchnormBackwardDxFused,
  bnBackwardPlan,
  bnRowDispatch,
  vecConfig,
} from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { DType, Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import { dummyTensor } from '../epilogue.js';
import { type Page, paged, pageOf, planPages } from '../paging.js';
import { run } from '../run.js';

export interface BatchNormParams {
  gamma: Tensor;
  beta: Tensor;
  movingMean: Tensor;
  movingVariance: Tensor;
  /** Added to the variance; default 1e-3 (Keras). */
  epsilon?: number;
  /** Moving-average momentum; default 0.999 (keras.applications MobileNetV2's BN layers; the Keras layer default is 0.99). */
  momentum?: number;
}

export const BN_DEFAULT_EPSILON = 1e-3;
export const BN_DEFAULT_MOMENTUM = 0.999;

interface Layout {
  channels: number;
  rows: number;
  vec4: boolean;
}

function checkParams(op: string, p: BatchNormParams, channels: number): void {
  for (const name of ['gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
    const t = p[name];
    if (!t || t.size !== channels) {
      throw new ShapeError(op, `${name} must hold one value per channel`, { [name]: t ? t.shape : 'missing', channels });
    }
  }
  const eps = p.epsilon ?? BN_DEFAULT_EPSILON;
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ShapeError(op, `epsilon must be a finite number >= 0, got ${eps}`);
  const m = p.momentum ?? BN_DEFAULT_MOMENTUM;
  if (!(m >= 0 && m <= 1)) throw new ShapeError(op, `momentum must be in [0, 1], got ${m}`);
}

function layoutOf(op: string, x: Tensor, p: BatchNormParams): Layout {
  if (x.shape.length < 2 || x.shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(op, 'x must have rank >= 2 (NHWC or [N, C]) with positive dims', { x: x.shape });
  }
  const channels = x.shape[x.shape.length - 1];
  checkParams(op, p, channels);
  return { channels, rows: x.size / channels, ...vecConfig(channels) };
}

/** The layout of one page (its rows) of a tensor with layout l. */
const pageLayout = (l: Layout, t: Tensor): Layout => ({ ...l, rows: t.size / l.channels });

function sameShape(op: string, names: Record<string, Tensor>, ref: Tensor): void {
  for (const [n, t] of Object.entries(names)) {
    if (t.shape.length !== ref.shape.length || t.shape.some((d, i) => d !== ref.shape[i])) {
      throw new ShapeError(op, `${n} must have the shape of x`, { x: ref.shape, [n]: t.shape });
    }
  }
}

/** Partial sums a row-loop pass over `rows` rows writes (the kernel's own split; `target` invocations). */
const partsOf = (l: Layout, rows: number, target?: number) => bnRowDispatch(l, rows, l.channels, target).uniforms.parts;

/** Per-channel affine {scale, shift} of inference BatchNorm, for conv epilogues: y = x*scale + shift. */
export function foldBatchNorm(e: Engine, p: BatchNormParams): { scale: Tensor; shift: Tensor } {
  const channels = p.gamma?.size;
  checkParams('foldBatchNorm', p, channels);
  const scale = e.alloc([channels]);
  const shift = e.alloc([channels]);
  run(e, batchnormFold, vecConfig(channels), { channels, epsilon: p.epsilon ?? BN_DEFAULT_EPSILON }, { gamma: p.gamma, beta: p.beta, mean: p.movingMean, variance: p.movingVariance, scale, shift });
  return { scale, shift };
}

function apply(e: Engine, x: Tensor, l: Layout, mean: Tensor, scale: Tensor, beta: Tensor, relu6: boolean, dtype: DType, residual?: Tensor): Tensor {
  const y = e.alloc(x.shape, dtype);
  const buffers = { x, mean, scale, beta, residual: residual ?? dummyTensor(e), y };
  run(e, batchnormApply, { vec4: l.vec4, relu6, residual: !!residual }, { rows: l.rows, channels: l.channels }, buffers);
  return y;
}

/** y = (x − movingMean)/sqrt(movingVariance + eps)·gamma + beta, optionally ReLU6. */
export function batchNormInference(e: Engine, x: Tensor, p: BatchNormParams, opts: { relu6?: boolean; /** output storage (default: x's) */ dtype?: DType } = {}): Tensor {
  const op = 'batchNormInference';
  const l = layoutOf(op, x, p);
  const { scale, shift } = foldBatchNorm(e, p);
  const dtype = opts.dtype ?? x.dtype;
  const [y] = paged(e, op, [x], [{ batch: x.shape, dtype }], ([xp]) => [apply(e, xp, pageLayout(l, xp), p.movingMean, scale, p.beta, !!opts.relu6, dtype)]);
  scale.dispose();
  shift.dispose();
  return y;
}

/**
 * Backward of inference-mode BatchNorm (frozen statistics; gamma/beta may still train):
 * dx = dŷ·gamma/sqrt(var+eps), dgamma = Σ dŷ·x̂, dbeta = Σ dŷ with dŷ = dy·relu6Mask(y).
 * The ReLU6 mask is y's, recomputed from x with the forward's arithmetic (kernels'
 * batchnorm.backward.ts), so an f32 `y` is not read and may be null (a depthwise unit applied this
 * BN as it loaded x and nothing stored y). A y stored as f16 is read for the mask (its rounding
 * decides it).
 */
export function batchNormInferenceBackward(
  e: Engine,
  x: Tensor,
  y: Tensor | null,
  dy: Tensor,
  p: BatchNormParams,
  opts: { relu6?: boolean } = {},
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const op = 'batchNormInferenceBackward';
  const l = layoutOf(op, x, p);
  sameShape(op, y ? { y, dy } : { dy }, x);
  const relu6 = !!opts.relu6;
  const maskFromY = relu6 && y !== null && y.dtype === 'f16';
  const dx = e.alloc(x.shape);
  const { dgamma, dbeta } = reduceBackward(e, op, x, dy, maskFromY ? y : null, l, p, relu6, { inference: true, mean: p.movingMean, variance: p.movingVariance, dx });
  return { dx, dgamma, dbeta };
}

/**
 * Records a per-channel partial-sum pass over the batch into ONE partials buffer of
 * [rowsPerBlock·parts + extra, C]: page by page when the tensors exceed one binding, each page's
 * block of `blocks` row groups (of its own `parts` rows each) copied to its place, so the finalize
 * pass sees parts = Σ over pages. `dispatch(page tensors, page partials, page layout, page)` records
 * one page's pass. Returns the partials and the total parts.
 */
function batchPartials(
  e: Engine,
  op: string,
  batched: readonly Tensor[],
  l: Layout,
  blocks: number,
  extraRows: number,
  dispatch: (ins: Tensor[], partials: Tensor, pl: Layout, page: Page) => void,
  target?: number,
): { partials: Tensor; parts: number } {
  const x = batched[0];
  const pages = planPages(e, op, x.shape[0], batched.map((t) => e.sampleBytes(t)));
  if (pages.length === 1) {
    const parts = partsOf(l, l.rows, target);
    const partials = e.alloc([blocks * parts + extraRows, l.channels]);
    dispatch([...batched], partials, l, pages[0]);
    return { partials, parts };
  }
  const rowsPerSample = l.rows / x.shape[0];
  const pageParts = pages.map((pg) => partsOf(l, pg.count * rowsPerSample, target));
  const P = pageParts.reduce((a, b) => a + b, 0);
  const partials = e.alloc([blocks * P + extraRows, l.channels]);
  const rowBytes = l.channels * 4;
  let off = 0;
  pages.forEach((pg, i) => {
    const parts = pageParts[i];
    e.tidy(() => {
      const ins = batched.map((t) => pageOf(e, t, pg));
      const part = e.alloc([blocks * parts + extraRows, l.channels]);
      dispatch(ins, part, pageLayout(l, ins[0]), pg);
      for (let b = 0; b < blocks; b++) e.copy(part, partials, parts * rowBytes, b * parts * rowBytes, (b * P + off) * rowBytes);
      if (i === 0 && extraRows) e.copy(part, partials, extraRows * rowBytes, blocks * parts * rowBytes, blocks * P * rowBytes);
    });
    off += parts;
  });
  return { partials, parts: P };
}

/**
 * The partial-sum pass of batchnorm.backward (and, in inference mode, dx) + finalize. `y`: the ReLU6
 * mask read from y; null: recomputed from x (inference mode; beta is bound in y's place).
 */
function reduceBackward(
  e: Engine,
  op: string,
  x: Tensor,
  dy: Tensor,
  y: Tensor | null,
  l: Layout,
  p: BatchNormParams,
  relu6: boolean,
  mode: { inference: boolean; mean: Tensor; variance: Tensor; dx: Tensor | null },
): { dgamma: Tensor; dbeta: Tensor; coef: Tensor | null } {
  const dummy = dummyTensor(e);
  const full = mode.dx;
  const maskFromX = relu6 && !y;
  if (maskFromX && !mode.inference) throw new Error(`${op}: the ReLU6 mask is recomputed from x only in inference mode`);
  const batched = [x, dy, ...(y ? [y] : []), ...(full ? [full] : [])];
  const { partials, parts: P } = batchPartials(e, op, batched, l, 2, 0, ([xp, dyp, ...rest], partials, pl, pg) => {
    const yp = y ? rest[0] : null;
    const dxp = full ? rest[rest.length - 1] : null;
    // (inference mode writes dx in this pass: into the page view, or a page copy copied back)
    run(
      e,
      batchnormBackward,
      { vec4: l.vec4, relu6, inference: mode.inference, maskFromX },
      { rows: pl.rows, channels: l.channels, epsilon: p.epsilon ?? BN_DEFAULT_EPSILON },
      // (no ReLU6: the mask binding is unread; bind x)
      { x: xp, mask: yp ?? (maskFromX ? p.beta : xp), dy: dyp, gamma: p.gamma, mean: mode.mean, variance: mode.variance, partials, dx: dxp ?? dummy },
    );
    if (full && dxp && dxp.buffer !== full.buffer) e.copy(dxp, full, dxp.bytes, 0, pg.start * e.sampleBytes(full));
  });
  const dgamma = e.alloc([l.channels]);
  const dbeta = e.alloc([l.channels]);
  const coef = mode.inference ? null : e.alloc([3, l.channels]);
  run(
    e,
    batchnormBackwardFinalize,
    { vec4: l.vec4, train: !mode.inference },
    { channels: l.channels, parts: P, count: l.rows },
    // (inference: invStd is unused; bind gamma, not the dummy that is bound writable as coef)
    { partials, gamma: p.gamma, invStd: mode.inference ? p.gamma : mode.variance, dgamma, dbeta, coef: coef ?? dummy },
  );
  partials.dispose();
  return { dgamma, dbeta, coef };
}

/**
 * Training-mode BatchNorm: normalizes with the batch mean and biased batch variance, updates
 * p.movingMean / p.movingVariance in place (moving = moving·momentum + batch·(1 − momentum)), and
 * returns the saved mean and invStd = 1/sqrt(var + eps) for the backward.
 */
export function batchNormTraining(
  e: Engine,
  x: Tensor,
  p: BatchNormParams,
  opts: {
    relu6?: boolean;
    /** output storage (default: x's) */ dtype?: DType;
    /** y = BN(x) + residual (no ReLU6): a block's shortcut added in the same pass */ residual?: Tensor;
  } = {},
): { y: Tensor; mean: Tensor; invStd: Tensor } {
  const { mean, invStd, scale } = batchNormTrainingStats(e, x, p);
  const y = applyBatchNorm(e, x, { mean, scale, beta: p.beta }, !!opts.relu6, opts.dtype ?? x.dtype, opts.residual);
  scale.dispose();
  return { y, mean, invStd };
}

/**
 * The statistics half of batchNormTraining: batch mean, invStd and scale = gamma·invStd (moving
 * averages updated), for a consumer that applies y = relu6?((x − mean)·scale + beta) itself as it
 * loads x (a depthwise convolution's `inputBn`), so y is never stored.
 */
export function batchNormTrainingStats(e: Engine, x: Tensor, p: BatchNormParams): { mean: Tensor; invStd: Tensor; scale: Tensor } {
  const op = 'batchNormTraining';
  const l = layoutOf(op, x, p);
  // Every page shifts by the batch's first row (so the pages' sums combine exactly).
  const first = x.shape.length > 1 && x.shape[0] > 1 ? pageOf(e, x, { start: 0, count: 1 }) : x;
  const { partials, parts } = batchPartials(e, op, [x], l, 2, 1, ([xp], part, pl) => {
    run(e, batchnormStats, { vec4: l.vec4 }, { rows: pl.rows, channels: l.channels }, { x: xp, shift: first, partials: part });
  });
  if (first !== x) first.dispose();
  const mean = e.alloc([l.channels]);
  const invStd = e.alloc([l.channels]);
  const scale = e.alloc([l.channels]);
  const momentum = p.momentum ?? BN_DEFAULT_MOMENTUM;
  run(
    e,
    batchnormStatsFinalize,
    { vec4: l.vec4 },
    { channels: l.channels, parts, count: l.rows, momentum, epsilon: p.epsilon ?? BN_DEFAULT_EPSILON },
    { partials, gamma: p.gamma, movingMean: p.movingMean, movingVariance: p.movingVariance, mean, invStd, scale },
  );
  partials.dispose();
  return { mean, invStd, scale };
}

/** A BatchNorm in the centered form of batchnorm-apply.ts: y = (x − mean)·scale + beta, per channel. */
export interface BatchNormAffine {
  mean: Tensor;
  scale: Tensor;
  beta: Tensor;
}

/** y = relu6?((x − mean)·scale + beta) (+ residual, without ReLU6), paged like every element-wise op. */
export function applyBatchNorm(e: Engine, x: Tensor, bn: BatchNormAffine, relu6: boolean, dtype: DType = x.dtype, residual?: Tensor): Tensor {
  const op = 'applyBatchNorm';
  const channels = x.shape[x.shape.length - 1];
  for (const [n, t] of Object.entries(bn)) {
    if (t.size !== channels) throw new ShapeError(op, `${n} must hold one value per channel`, { [n]: t.shape, channels });
  }
  if (residual) {
    sameShape(op, { residual }, x);
    if (relu6) throw new ShapeError(op, 'a residual is added after the BatchNorm, with no ReLU6');
  }
  const l: Layout = { channels, rows: x.size / channels, ...vecConfig(channels) };
  const ins = residual ? [x, residual] : [x];
  return paged(e, op, ins, [{ batch: x.shape, dtype }], ([xp, rp]) => [apply(e, xp, pageLayout(l, xp), bn.mean, bn.scale, bn.beta, relu6, dtype, rp)])[0];
}

/**
 * Kernels of batchNormTrainingBackward: 'auto' (default: two passes over x and dy, the sums folded into
 * the dx pass or finalized first as bnBackwardPlan decides), 'fold' / 'finalize' (the two-pass form
 * forced either way), 'three-pass' (the former kernels, reading y for the mask; kept for benchmarks
 * and tests).
 */
export type BnBackwardVariant = 'auto' | 'fold' | 'finalize' | 'three-pass';

/**
 * Backward of training-mode BatchNorm, including the paths through the batch mean and variance:
 * dx = (gamma·invStd/M)·(M·dŷ − Σdŷ − x̂·Σ(dŷ·x̂)), dgamma = Σ dŷ·x̂, dbeta = Σ dŷ, dŷ = dy·relu6Mask,
 * M = N·H·W. `saved` is what batchNormTraining returned (with the same `p`: gamma and beta must be
 * the values the forward normalized with).
 *
 * The ReLU6 mask is that of the forward's output y = relu6(x̂·gamma + beta), recomputed from x and the
 * saved statistics (the mask y would give, see kernels' batchnorm.backward-train.ts), so an f32 `y` is
 * not read (it may be null). A y stored as f16 is read for the mask (its rounding decides it).
 * Two passes over the activations, each reading x and dy: per-channel partial sums, then dx; the
 * partial sums are folded in the dx pass (2 dispatches) or by a finalize dispatch (3), as
 * kernels' bnBackwardPlan decides ('fold' / 'finalize' force one). `variant: 'three-pass'` runs the
 * former kernels (partial sums reading x, y, dy; finalize; dx reading x, y, dy): it needs y.
 */
export function batchNormTrainingBackward(
  e: Engine,
  x: Tensor,
  y: Tensor | null,
  dy: Tensor,
  saved: { mean: Tensor; invStd: Tensor },
  p: BatchNormParams,
  opts: { relu6?: boolean; variant?: BnBackwardVariant } = {},
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const op = 'batchNormTrainingBackward';
  const l = layoutOf(op, x, p);
  sameShape(op, y ? { y, dy } : { dy }, x);
  for (const [n, t] of [['mean', saved.mean], ['invStd', saved.invStd]] as const) {
    if (t.size !== l.channels) throw new ShapeError(op, `saved ${n} must hold one value per channel`, { [n]: t.shape, channels: l.channels });
  }
  const relu6 = !!opts.relu6;
  const variant = opts.variant ?? 'auto';
  if (variant === 'three-pass') {
    if (!y) throw new ShapeError(op, "the 'three-pass' variant reads y: pass the forward's output");
    return threePassBackward(e, op, x, y, dy, saved, p, l, relu6);
  }
  // y stored as f16: its mask is f16(pre)'s, read from y (see kernels' batchnorm.backward-train.ts)
  const maskFromY = relu6 && y !== null && y.dtype === 'f16';
  const cfg = { vec4: l.vec4, relu6, maskFromY };
  const ins = maskFromY ? [x, dy, y] : [x, dy];
  // fold the sums into the dx pass (2 dispatches) or finalize them first (3): bnBackwardPlan; paged
  // tensors finalize (each page's dx pass would fold the partials of all pages)
  const plan = bnBackwardPlan(l, l.rows, l.channels);
  const pagedInput = x.shape[0] * Math.max(...ins.map((t) => e.sampleBytes(t)), e.sampleBytes(x.shape)) > e.bindingLimit; // (as planPages)
  const fold = variant === 'fold' || (variant === 'auto' && plan.fold && !pagedInput);
  // (a forced fold on a shape the plan would finalize keeps the default split)
  const target = fold ? plan.sumTarget : undefined;
  const perChannel = { gamma: p.gamma, beta: p.beta, mean: saved.mean, invStd: saved.invStd };
  // (the partials end with the per-channel values packed for the dx pass: BN_BACKWARD_PARAM_ROWS rows)
  const { partials, parts } = batchPartials(
    e,
    op,
    ins,
    l,
    2,
    BN_BACKWARD_PARAM_ROWS,
    ([xp, dyp, yp], part, pl) => run(e, batchnormBackwardSums, cfg, { rows: pl.rows, channels: l.channels, target }, { x: xp, dy: dyp, y: yp ?? xp, ...perChannel, partials: part }),
    target,
  );
  const dgamma = e.alloc([l.channels]);
  const dbeta = e.alloc([l.channels]);
  let sums = partials;
  if (!fold) {
    sums = e.alloc([3, l.channels]);
    run(e, batchnormBackwardFinalize, { vec4: l.vec4, train: true }, { channels: l.channels, parts, count: l.rows }, { partials, gamma: p.gamma, invStd: saved.invStd, dgamma, dbeta, coef: sums });
  }
  const [dx] = paged(e, op, ins, [{ batch: x.shape }], ([xp, dyp, yp], pg) => {
    const dxp = e.alloc(xp.shape);
    run(
      e,
      batchnormBackwardDxFused,
      { ...cfg, fold },
      { rows: pageLayout(l, xp).rows, channels: l.channels, sumParts: parts, count: l.rows, grads: fold && pg.start === 0 },
      { x: xp, dy: dyp, y: yp ?? xp, params: partials, sums, dx: dxp, dgamma, dbeta },
    );
    return [dxp];
  });
  if (sums !== partials) sums.dispose();
  partials.dispose();
  return { dx, dgamma, dbeta };
}

function threePassBackward(
  e: Engine,
  op: string,
  x: Tensor,
  y: Tensor,
  dy: Tensor,
  saved: { mean: Tensor; invStd: Tensor },
  p: BatchNormParams,
  l: Layout,
  relu6: boolean,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const { dgamma, dbeta, coef } = reduceBackward(e, op, x, dy, y, l, p, relu6, {
    inference: false,
    mean: saved.mean,
    variance: saved.invStd,
    dx: null,
  });
  const [dx] = paged(e, op, [x, y, dy], [{ batch: x.shape }], ([xp, yp, dyp]) => {
    const dxp = e.alloc(xp.shape);
    run(e, batchnormBackwardDx, { vec4: l.vec4, relu6 }, { rows: pageLayout(l, xp).rows, channels: l.channels }, { x: xp, y: yp, dy: dyp, mean: saved.mean, coef: coef!, dx: dxp });
    return [dxp];
  });
  coef!.dispose();
  return { dx, dgamma, dbeta };
}
