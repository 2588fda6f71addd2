// Post-training calibration for the int8 TFLite export: runs the float network (our kernels, BatchNorm
// in inference mode) on representative batches and records each activation's min and max over all
// of them (TFLite's converter calibrates the same way: min/max per tensor), and optionally a bounded
// histogram of each (tflite-ranges.ts: percentile or MSE-optimal ranges). The head (mean → Dense)
// is tiny and runs on the host from the last activation. Keys are the tensor names of
// `mobileNetV2Tflite` (tfliteActivationNames).
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import type { MobileNetV2Net } from '../nn/mobilenet-v2.js';
import type { ConvBn } from '../nn/conv-bn.js';
import { add } from '../ops/elementwise/index.js';
import type { ActivationRanges } from './tflite-writer.js';
import { observeHistogram, type ActivationHistograms } from './tflite-ranges.js';
import { accumulateInputMoments, accumulatePatchMoments, type RoundingMoments } from './tflite-rounding.js';

export interface CalibrationHead {
  classes: number;
  hidden?: number | null;
  hiddenName?: string;
  denseName?: string;
  /** Head weights by Keras name: `<dense>/kernel` [in,out], `<dense>/bias`. */
  weight: (name: string) => Float32Array;
}

function observe(ranges: ActivationRanges, name: string, data: ArrayLike<number>): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`calibration: activation '${name}' is not finite (NaN or Inf in the network?)`);
  const r = ranges.get(name);
  ranges.set(name, r ? [Math.min(r[0], lo), Math.max(r[1], hi)] : [lo, hi]);
}

const unitName = (u: ConvBn) => u.spec.reluName ?? u.spec.bnName;

/** Per-channel sums of activations (NHWC, last axis), for their means: `sum[c] / count`. */
export type ChannelSums = Map<string, { sum: Float64Array; count: number }>;

function accumulate(sums: ChannelSums, name: string, data: ArrayLike<number>, channels: number): void {
  let s = sums.get(name);
  if (!s) sums.set(name, (s = { sum: new Float64Array(channels), count: 0 }));
  for (let i = 0; i < data.length; i++) s.sum[i % channels] += data[i];
  s.count += data.length / channels;
}

/** Channel means by activation name, from `ChannelSums`. */
export function channelMeans(sums: ChannelSums): Map<string, Float64Array> {
  return new Map([...sums].map(([k, v]) => [k, v.sum.map((x) => x / Math.max(1, v.count))]));
}

/**
 * Adds one preprocessed batch [N,S,S,3] (values in [-1,1]) to `ranges` (and, given `sums`, the
 * per-channel sums of every activation and of the input, for bias correction; given `hists`, the
 * bounded histogram of every activation, for the calibration methods of tflite-ranges.ts; given
 * `moments`, the input moments of every depthwise (3×3 patches) and pointwise layer, for adaptive rounding:
 * tflite-rounding.ts); the caller keeps `x`.
 */
export async function calibrateBatch(
  e: Engine,
  net: MobileNetV2Net,
  head: CalibrationHead,
  x: Tensor,
  ranges: ActivationRanges,
  sums?: ChannelSums,
  hists?: ActivationHistograms,
  moments?: RoundingMoments,
  /** Also the pointwise layers' input moments (GPTQ rounding; C² per layer and sample). */
  pointwiseMoments = true,
): Promise<void> {
  if (sums) accumulate(sums, 'input', await x.read(), 3);
  const ctx = { training: false };
  const outs = e.tidy(() => {
    const list: [string, Tensor, ConvBn?][] = [];
    let h = net.stem.forward(e, x, ctx);
    list.push([unitName(net.stem), h, net.stem]);
    for (const blk of net.blocks) {
      const input = h;
      for (const u of blk.units) {
        h = u.forward(e, h, ctx);
        list.push([unitName(u), h, u]);
      }
      if (blk.residual) {
        h = add(e, input, h);
        list.push([blk.addName ?? `${blk.name}_add`, h]);
      }
    }
    h = net.last.forward(e, h, ctx);
    list.push([unitName(net.last), h, net.last]);
    return list;
  });
  try {
    let last: Float32Array | null = null;
    let lastShape: readonly number[] = [];
    for (const [name, t, u] of outs) {
      // A depthwise unit's input is the tensor before it in this list (the expansion, or the block input).
      if (moments && u?.spec.kind === 'depthwise' && last) accumulatePatchMoments(moments.depthwise, u.spec.convName, last, lastShape, u.spec.stride);
      if (moments && pointwiseMoments && u?.spec.kind === 'pointwise' && last) accumulateInputMoments(moments.pointwise, u.spec.convName, last, lastShape);
      const data = await t.read();
      observe(ranges, name, data);
      if (hists) observeHistogram(hists, name, data);
      if (sums) accumulate(sums, name, data, t.shape[t.shape.length - 1]);
      last = data;
      lastShape = t.shape;
    }
    // Head on the host: mean over H·W, then the Dense layers.
    const [n, hh, ww, c] = outs[outs.length - 1][1].shape;
    const pooled = new Float64Array(n * c);
    for (let b = 0; b < n; b++) {
      for (let p = 0; p < hh * ww; p++) for (let k = 0; k < c; k++) pooled[b * c + k] += last![(b * hh * ww + p) * c + k];
      for (let k = 0; k < c; k++) pooled[b * c + k] /= hh * ww;
    }
    observe(ranges, 'global_average_pooling2d', pooled);
    if (hists) observeHistogram(hists, 'global_average_pooling2d', pooled);
    let v = pooled;
    let inN = c;
    const dense = (name: string, outN: number, relu: boolean) => {
      const w = head.weight(`${name}/kernel`);
      const bias = head.weight(`${name}/bias`);
      if (w.length !== inN * outN || bias.length !== outN) throw new Error(`calibration: ${name} is [${w.length / outN},${outN}], expected [${inN},${outN}]`);
      const y = new Float64Array(n * outN);
      for (let b = 0; b < n; b++) {
        for (let o = 0; o < outN; o++) {
          let s = bias[o];
          for (let i = 0; i < inN; i++) s += v[b * inN + i] * w[i * outN + o];
          y[b * outN + o] = relu ? Math.max(0, s) : s;
        }
      }
      observe(ranges, name, y);
      if (hists) observeHistogram(hists, name, y);
      v = y;
      inN = outN;
    };
    if (head.hidden) dense(head.hiddenName ?? 'dense', head.hidden, true);
    dense(head.denseName ?? 'predictions', head.classes, false);
  } finally {
    for (const [, t] of outs) t.dispose();
  }
}
