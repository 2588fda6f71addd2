// Depthwise 2D convolution (MobileNetV2's 3x3 depthwise layers): forward with fused epilogue,
// gradient w.r.t. the input and w.r.t. the filter. NHWC activations, filters [k,k,C].
// vec4-of-channels kernels when C % 4 == 0, scalar fallback otherwise. See padding.ts for the modes.
import {
  depthwiseConv2d as depthwiseKernel,
  depthwiseConv2dBackwardInput as depthwiseBackwardInputKernel,
  depthwiseConv2dBackwardFilter as depthwiseBackwardFilterKernel,
  depthwiseConv2dStrip as depthwiseStripKernel,
  depthwiseConv2dStripBackwardInput as depthwiseStripBackwardInputKernel,
  depthwiseConv2dSubgroup as depthwiseSubgroupKernel,
  depthwiseConv2dSubgroupBackwardInput as depthwiseSubgroupBackwardInputKernel,
  depthwiseConv2dSubgroupBackwardFilter as depthwiseSubgroupBackwardFilterKernel,
  depthwiseSubgroupFilterDispatch,
  depthwiseFilterDispatch,
  subgroupVec,
  vecConfig,
} from '@mnv2/kernels';
import { hasSubgroups8 } from '../matmul/matmul.js';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { dummyTensor, resolveEpilogue } from '../epilogue.js';
import { applyBatchNorm, type BatchNormAffine } from '../norm/batchnorm.js';
import { type ConvOptions, DEFAULT_DEPTHWISE_VARIANT, type DepthwiseVariant, checkConvOptions, checkDyShape, checkFilter, checkRank, convGeometry, convShapes, withPartials } from './conv-common.js';
import { run } from '../run.js';
import { reducePartials, convOutShape } from './conv2d.js';
import { paged } from '../paging.js';

// Register-blocking factors (outputs along W per invocation), measured on lavapipe with the five
// MobileNetV2 224² depthwise shapes (A/B in one process, best of 15): forward stride 1 is ~10 %
// faster with 8 than 4 (2 is 1.3x slower), stride 2 equal with 4 and 8; backward-input 8 beats 4;
// the filter gradient (9 vec4 accumulators per invocation already) wants few outputs: 2 for stride 1,
// 1 for stride 2 (2 was 2.3x slower at batch 4 for 112²x96 s2).
const FWD_RUN = { 1: 8, 2: 4 } as const;
/** Inputs along W per invocation of the backward-input (a multiple of the stride). */
const BWD_RUN = 8;
const FILTER_RUN = { 1: 2, 2: 1 } as const;
/**
 * 'strip' forms: outputs along W per invocation (forward; stride-1 backward-input, which is a forward
 * with the rotated filter) and dy columns per invocation (stride-2 backward-input, 2 dx columns each).
 * One channel per lane even when C % 4 == 0: the streamed accumulators (3 rows x run at stride 1) and
 * the 9 weights then fit the 32 vector registers lavapipe's LLVM has (AVX-512VL), and the per-lane
 * loads are assembled in registers. Measured with 8x56x56x144 s1, 8x112x112x96 s2 and 8x28x28x192 s2
 * (bench/results/kernels-depthwise-bn-lavapipe.md): scalar run 8 beat vec4 run 8 by 1.2-1.5x at s1
 * and run 4/6/8 were within noise at s2. 'strip-vec4' (vec4 of channels per lane) is kept for GPUs.
 */
const STRIP_FWD_RUN = { 1: 8, 2: 4 } as const;
const STRIP_BWD_RUN = { 1: 8, 2: 2 } as const;

/** The variant that runs: opts' or the default; 'subgroup' needs 8-lane subgroups, else 'strip'. */
function resolveVariant(e: Engine, opts: ConvOptions): DepthwiseVariant {
  const v = opts.depthwiseVariant ?? DEFAULT_DEPTHWISE_VARIANT;
  return v === 'subgroup' && !hasSubgroups8(e) ? 'strip' : v;
}

/** Whether depthwiseConv2d with the default variant applies an f32 `inputBn` as it loads (else it materializes it). */
export function depthwiseFusesInputBn(e: Engine): boolean {
  return resolveVariant(e, {} as ConvOptions) !== 'run';
}

/** y = epilogue(depthwise(x, w)): x [N,H,W,C], w [k,k,C] → [N,outH,outW,C]. */
export function depthwiseConv2d(e: Engine, x: Tensor, w: Tensor, opts: ConvOptions): Tensor {
  const yShape = convOutShape('depthwiseConv2d', x, w, opts);
  return paged(e, 'depthwiseConv2d', [x], [{ batch: yShape, dtype: opts.dtype ?? x.dtype }], ([xp]) => [depthwiseConv2dPage(e, xp, w, opts)])[0];
}

function depthwiseConv2dPage(e: Engine, x: Tensor, w: Tensor, opts: ConvOptions): Tensor {
  const op = 'depthwiseConv2d';
  const shapes = { x: x.shape, w: w.shape };
  checkRank(op, 'x', x.shape, 4, shapes);
  checkRank(op, 'w', w.shape, 3, shapes);
  const [N, H, W, C] = x.shape;
  const k = checkFilter(op, opts, w.shape, C, 'x', shapes);
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  const ep = resolveEpilogue(e, op, opts.epilogue, C);
  const y = e.alloc([N, g.outH, g.outW, C], opts.dtype ?? x.dtype);
  const shapes4 = convShapes(N, H, W, C, g, C);
  const variant = resolveVariant(e, opts);
  // The kernels apply an inputBn as they load, except the 'run' form (the old baseline) and at f16:
  // there the BatchNorm's output is materialized first.
  const fuse = !!opts.inputBn && variant !== 'run' && x.dtype === 'f32';
  const xin = opts.inputBn && !fuse ? applyBatchNorm(e, x, opts.inputBn, true) : x;
  const bn = inputBnBuffers(e, fuse ? opts.inputBn : undefined);
  if (variant === 'subgroup') {
    const cfg = { k, stride: opts.stride, vec: subgroupVec(C), epilogue: ep.cfg, inputBn: fuse };
    run(e, depthwiseSubgroupKernel, cfg, shapes4, { x: xin, w, scale: ep.scale, shift: ep.shift, ...bn, y });
  } else if (variant !== 'run') {
    const vec4 = variant === 'strip-vec4' && vecConfig(C).vec4;
    const cfg = { k, stride: opts.stride, run: STRIP_FWD_RUN[opts.stride], vec4, epilogue: ep.cfg, inputBn: fuse };
    run(e, depthwiseStripKernel, cfg, shapes4, { x: xin, w, scale: ep.scale, shift: ep.shift, ...bn, y });
  } else {
    run(e, depthwiseKernel, { k, stride: opts.stride, run: FWD_RUN[opts.stride], ...vecConfig(C), epilogue: ep.cfg }, shapes4, { x: xin, w, scale: ep.scale, shift: ep.shift, y });
  }
  if (xin !== x) xin.dispose(); // safe: dispatches run in order, a reuse of its buffer runs after
  return y;
}

/** The inputBn bindings of the kernels that apply it (placeholders when there is none). */
function inputBnBuffers(e: Engine, bn: BatchNormAffine | undefined) {
  return bn ? { inMean: bn.mean, inScale: bn.scale, inBeta: bn.beta } : { inMean: dummyTensor(e), inScale: dummyTensor(e), inBeta: dummyTensor(e) };
}

/**
 * dx of depthwiseConv2d: dy [N,outH,outW,C], w [k,k,C] → [N,H,W,C] (= xShape).
 * Ignores opts.epilogue: pass dy already multiplied by the epilogue's backward (ReLU6 mask, scale).
 */
export function depthwiseConv2dBackwardInput(e: Engine, dy: Tensor, w: Tensor, xShape: readonly number[], opts: ConvOptions): Tensor {
  return paged(e, 'depthwiseConv2dBackwardInput', [dy], [{ batch: xShape }], ([dyp], pg) => [
    depthwiseConv2dBackwardInputPage(e, dyp, w, [pg.count, ...xShape.slice(1)], opts),
  ])[0];
}

function depthwiseConv2dBackwardInputPage(e: Engine, dy: Tensor, w: Tensor, xShape: readonly number[], opts: ConvOptions): Tensor {
  const op = 'depthwiseConv2dBackwardInput';
  const shapes = { dy: dy.shape, w: w.shape, xShape };
  checkRank(op, 'dy', dy.shape, 4, shapes);
  checkRank(op, 'w', w.shape, 3, shapes);
  checkRank(op, 'xShape', xShape, 4, shapes);
  const [N, H, W, C] = xShape;
  const k = checkFilter(op, opts, w.shape, C, 'xShape', shapes);
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  checkDyShape(op, dy.shape, N, g, C, 'filter', shapes);
  const S = opts.stride;
  const dx = e.alloc([N, H, W, C]);
  const shapes4 = convShapes(N, H, W, C, g, C);
  const variant = resolveVariant(e, opts);
  if (variant === 'subgroup') {
    run(e, depthwiseSubgroupBackwardInputKernel, { k, stride: S, vec: subgroupVec(C) }, shapes4, { dy, w, dx });
  } else if (variant !== 'run') {
    const vec4 = variant === 'strip-vec4' && vecConfig(C).vec4;
    run(e, depthwiseStripBackwardInputKernel, { k, stride: S, run: STRIP_BWD_RUN[S], vec4 }, shapes4, { dy, w, dx });
  } else {
    run(e, depthwiseBackwardInputKernel, { k, stride: S, run: BWD_RUN - (BWD_RUN % S), ...vecConfig(C) }, shapes4, { dy, w, dx });
  }
  return dx;
}

/**
 * Which filter-gradient kernel runs: the 'subgroup' form (depthwise-conv2d-subgroup.backward-filter.ts)
 * or the register-blocked one that the other variants share. With the default variant the subgroup
 * form runs only where it measured faster on lavapipe (bench kernels --variants, every MobileNetV2
 * shape at 224 and 160, batch 1 and 8: bench/results/kernels-dw-filter-lavapipe.md): stride 1 from
 * 12 output columns up (1.3-1.7x on 14-112 columns; 10 columns lose up to 1.4x at batch 1, two
 * 8-lane blocks for 10 columns leave lanes idle), never at stride 2 (0.8-1.0x: a lane loads 2-3
 * span columns per input row there). An explicit depthwiseVariant 'subgroup' always takes it (the
 * tests cover every shape so).
 */
export function depthwiseFilterForm(e: Engine, opts: ConvOptions, outW: number): 'subgroup' | 'blocked' {
  if (resolveVariant(e, opts) !== 'subgroup') return 'blocked';
  if (opts.depthwiseVariant === 'subgroup') return 'subgroup';
  return opts.stride === 1 && outW >= 12 ? 'subgroup' : 'blocked';
}

/**
 * dw of depthwiseConv2d: x [N,H,W,C], dy [N,outH,outW,C] → [k,k,C] with k = opts.kernelSize ?? 3.
 * Ignores opts.epilogue: pass dy already multiplied by the epilogue's backward (ReLU6 mask, scale).
 */
export function depthwiseConv2dBackwardFilter(e: Engine, x: Tensor, dy: Tensor, opts: ConvOptions): Tensor {
  return paged(e, 'depthwiseConv2dBackwardFilter', [x, dy], ['sum'], ([xp, dyp]) => [depthwiseConv2dBackwardFilterPage(e, xp, dyp, opts)])[0];
}

function depthwiseConv2dBackwardFilterPage(e: Engine, x: Tensor, dy: Tensor, opts: ConvOptions): Tensor {
  const op = 'depthwiseConv2dBackwardFilter';
  const shapes = { x: x.shape, dy: dy.shape };
  checkRank(op, 'x', x.shape, 4, shapes);
  checkRank(op, 'dy', dy.shape, 4, shapes);
  const k = opts?.kernelSize ?? 3;
  checkConvOptions(op, opts, k, shapes);
  const [N, H, W, C] = x.shape;
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  checkDyShape(op, dy.shape, N, g, C, `kernel size ${k}`, shapes);
  const s = convShapes(N, H, W, C, g, C);
  let P: number;
  let write: (partial: Tensor) => void;
  // (both forms apply an inputBn as they load; at f16 it is materialized first)
  const fuse = !!opts.inputBn && x.dtype === 'f32';
  const xin = opts.inputBn && !fuse ? applyBatchNorm(e, x, opts.inputBn, true) : x;
  const bn = inputBnBuffers(e, fuse ? opts.inputBn : undefined);
  if (depthwiseFilterForm(e, opts, g.outW) === 'subgroup') {
    const cfg = { k, stride: opts.stride, vec: subgroupVec(C), inputBn: fuse };
    P = depthwiseSubgroupFilterDispatch(cfg, s).parts;
    write = (partial) => run(e, depthwiseSubgroupBackwardFilterKernel, cfg, s, { x: xin, dy, ...bn, partial });
  } else {
    const cfg = { k, stride: opts.stride, run: FILTER_RUN[opts.stride], ...vecConfig(C), inputBn: fuse };
    P = depthwiseFilterDispatch(cfg, s).parts;
    write = (partial) => run(e, depthwiseBackwardFilterKernel, cfg, s, { x: xin, dy, ...bn, partial });
  }
  const dw = withPartials(e, P, [k, k, C], write, (partial, out) => reducePartials(e, partial, out, P));
  if (xin !== x) xin.dispose();
  return dw;
}
