// What conv2d and depthwise-conv2d (forward and backward) share: options and their checks, output
// size and padding, shape checks, the kernels' ConvShapes, and the filter-gradient partials.
// Output size and padding:
//   'same'      = TensorFlow/Keras: out = ceil(in / s), total = max((out-1)*s + k - in, 0),
//                 before = floor(total / 2) (stride 2 on an even size: 0 before, 1 after).
//   'symmetric' = PyTorch padding=k//2 on both sides: out = floor((in + 2*(k//2) - k) / s) + 1.
// Kernels take padTop/padLeft and the output size; taps outside the input read 0.
import type { BatchNormAffine } from '../norm/batchnorm.js';
import type { Engine } from '../../gpu/engine.js';
import type { DType, Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Epilogue } from '../epilogue.js';
import type { ConvShapes } from '@mnv2/kernels';

export type PaddingMode = 'same' | 'symmetric';

export interface ConvOptions {
  stride: 1 | 2;
  padding: PaddingMode;
  /**
   * Fused per-output-channel affine + ReLU6, applied by the FORWARD ops only. Backward ops ignore it:
   * the caller applies the epilogue's backward (ReLU6 mask, scale) to dy first.
   */
  epilogue?: Epilogue;
  /** Storage type of the FORWARD ops' output (default: the input's; f16 activations, see kernels/src/half.ts). */
  dtype?: DType;
  /**
   * Kernel size for the filter-gradient ops, which have no filter to read it from (default 3). The
   * forward and backward-input ops take it from the filter and check it against this when given.
   */
  kernelSize?: number;
  /**
   * Depthwise convolutions: which kernel form runs (default {@link DEFAULT_DEPTHWISE_VARIANT}).
   * 'subgroup' (adapters whose subgroups are exactly 8 lanes, e.g. lavapipe; elsewhere it runs
   * 'strip'): the 8 lanes of a subgroup are 8 output columns of one vec4 of channels, neighbours'
   * input columns come by subgroup shuffles, rows streamed down a strip (stride-2 backward-input:
   * lanes are 8 neighbouring dx columns). 'strip' streams each invocation down a
   * strip of rows, one channel per lane (fewest loads per output and few live registers);
   * 'strip-vec4' is the same with a vec4 of channels per lane (wider loads, which GPUs favour);
   * 'run' is the earlier form, one output row per invocation with a vec4 of channels (the baseline
   * of bench/results/kernels-depthwise-bn-lavapipe.md). The filter gradient has a 'subgroup' form
   * (same layout, the lanes' sums added by subgroupAdd) and one register-blocked form for the others.
   */
  depthwiseVariant?: DepthwiseVariant;
  /**
   * Depthwise forward and filter gradient: x is a training BatchNorm's raw input and the op
   * convolves relu6((x − mean)·scale + beta) (a MobileNetV2 expand unit's output, never stored). The
   * kernels apply it as they load (kernels' conv/input-bn.ts); the 'run' forward and f16 inputs get
   * it materialized first.
   */
  inputBn?: BatchNormAffine;
}

export type DepthwiseVariant = 'strip' | 'strip-vec4' | 'run' | 'subgroup';
export const DEPTHWISE_VARIANTS: readonly DepthwiseVariant[] = ['strip', 'strip-vec4', 'run', 'subgroup'];
/** The deterministic default (measured on lavapipe: bench/results/kernels-depthwise-bn-lavapipe.md). */
export const DEFAULT_DEPTHWISE_VARIANT: DepthwiseVariant = 'subgroup';

export interface ConvGeometry {
  outH: number;
  outW: number;
  padTop: number;
  padLeft: number;
}

function axis(inp: number, k: number, s: number, padding: PaddingMode): [number, number] {
  if (padding === 'same') {
    const out = Math.ceil(inp / s);
    const total = Math.max((out - 1) * s + k - inp, 0);
    return [out, Math.floor(total / 2)];
  }
  const pad = Math.floor(k / 2);
  return [Math.floor((inp + 2 * pad - k) / s) + 1, pad];
}

export function convGeometry(inH: number, inW: number, k: number, stride: number, padding: PaddingMode): ConvGeometry {
  const [outH, padTop] = axis(inH, k, stride, padding);
  const [outW, padLeft] = axis(inW, k, stride, padding);
  return { outH, outW, padTop, padLeft };
}

/** Largest kernel the generated kernels accept (their tap loops are unrolled). */
export const MAX_CONV_KERNEL = 7;

/** Validates stride, padding mode and kernel size; throws ShapeError naming the op. */
export function checkConvOptions(op: string, opts: ConvOptions, k: number, shapes: Record<string, readonly number[]>): void {
  if (!opts || (opts.stride !== 1 && opts.stride !== 2)) {
    throw new ShapeError(op, `stride must be 1 or 2, got ${String(opts?.stride)}`, shapes);
  }
  if (opts.padding !== 'same' && opts.padding !== 'symmetric') {
    throw new ShapeError(op, `padding must be 'same' or 'symmetric', got ${String(opts.padding)}`, shapes);
  }
  if (!Number.isInteger(k) || k < 1 || k > MAX_CONV_KERNEL) {
    throw new ShapeError(op, `kernel size must be an integer in 1..${MAX_CONV_KERNEL} (3 for MobileNetV2), got ${k}`, shapes);
  }
  if (opts.kernelSize !== undefined && opts.kernelSize !== k) {
    throw new ShapeError(op, `filter is ${k}x${k} but opts.kernelSize is ${opts.kernelSize}`, shapes);
  }
}

/**
 * Checks a square filter (full [k,k,cin,cout] or depthwise [k,k,C]) against the input's channels
 * (`xName` names where they come from) and the options; returns the kernel size k.
 */
export function checkFilter(op: string, opts: ConvOptions, w: readonly number[], channels: number, xName: 'x' | 'xShape', shapes: Record<string, readonly number[]>): number {
  const depthwise = w.length === 3;
  const [k, kw, wC] = w;
  if (k !== kw) throw new ShapeError(op, `filter must be square ${depthwise ? '[k,k,C]' : '[k,k,cin,cout]'}`, shapes);
  if (wC !== channels) throw new ShapeError(op, `filter ${depthwise ? '' : 'input '}channels (w[2]) must equal x channels (${xName}[3])`, shapes);
  checkConvOptions(op, opts, k, shapes);
  return k;
}

export function checkRank(op: string, name: string, shape: readonly number[], rank: number, shapes: Record<string, readonly number[]>): void {
  if (shape.length !== rank || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(op, `${name} must have rank ${rank} with positive integer dims`, shapes);
  }
}

/**
 * Runs the partial-sum reduction of a filter gradient: when P = 1 the kernel writes straight into
 * `out` (no second pass); otherwise into a pooled [P, ...] buffer summed by convFilterReduce.
 */
export function withPartials(e: Engine, parts: number, outShape: readonly number[], write: (partial: Tensor) => void, reduce: (partial: Tensor, out: Tensor) => void): Tensor {
  const out = e.alloc(outShape);
  if (parts === 1) {
    write(out);
    return out;
  }
  const partial = e.alloc([parts, ...outShape]);
  write(partial);
  reduce(partial, out);
  partial.dispose(); // safe: dispatches are ordered, a later reuse runs after the reduce
  return out;
}

/** The kernels' view of a conv (kernels/conv/conv-common.ts ConvShapes): input, geometry, output channels. */
export function convShapes(N: number, H: number, W: number, cin: number, g: ConvGeometry, cout: number): ConvShapes {
  return { N, H, W, cin, OH: g.outH, OW: g.outW, cout, padTop: g.padTop, padLeft: g.padLeft };
}

/** Throws unless dy is [N, outH, outW, C] for geometry g; `what` names what determined the geometry. */
export function checkDyShape(op: string, dy: readonly number[], N: number, g: ConvGeometry, C: number, what: string, shapes: Record<string, readonly number[]>): void {
  const want = [N, g.outH, g.outW, C];
  if (!(dy.length === want.length && dy.every((v, i) => v === want[i]))) {
    throw new ShapeError(op, `dy must be [${want}] for this input, ${what}, stride and padding`, shapes);
  }
}
