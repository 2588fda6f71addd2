// Activation ranges for the int8 TFLite export from bounded histograms of the calibration
// activations. The file format does not change with the method: each activation is still one int8
// scale and zero point per tensor (TFLite's scheme); what changes is which float range [lo, hi]
// those 256 codes cover.
//   minmax      the observed minimum and maximum (TFLite's converter): nothing is ever clipped, and
//               one outlier widens the step for every other value;
//   percentile  each side clipped where only a fraction (1 − p) of the tensor's values lie beyond
//               (ONNX Runtime's CalibrationMethod.Percentile takes p of |x|; here per side, for the
//               asymmetric int8 range);
//   mse         the clip that minimises the expected squared quantization error of the recorded
//               distribution: values inside [lo, hi] round with error step²/12, values outside are
//               clipped with error (x − bound)² (the "MSE" calibration of TensorRT/NVIDIA's
//               pytorch-quantization and of ONNX Runtime's Distribution method, asymmetric here).
// Memory per tensor is fixed: two histograms (x > 0 and |x| for x < 0) of HISTOGRAM_BINS bins on
// [0, top), where top is a power of two that doubles (adjacent bins merge) when a larger value comes.
// Platform-neutral, no GPU: the caller feeds it the values it read back.
import type { ActivationRanges } from './tflite-writer.js';

/** Bins per side of a tensor's histogram. */
export const HISTOGRAM_BINS = 2048;

/** One side of a histogram: counts of |x| on [0, top) in equal bins. */
export interface HistogramSide {
  bins: Float64Array;
  /** Upper end of the last bin: a power of two (0 while the side is empty). */
  top: number;
  /** Largest |x| seen on this side. */
  max: number;
}

export interface ActivationHistogram {
  pos: HistogramSide;
  neg: HistogramSide;
  /** Values exactly 0 (ReLU's zeros; exact in int8, whatever the range). */
  zeros: number;
  /** All values seen. */
  count: number;
}

/** Histograms by activation name (the tensor names of `mobileNetV2Tflite`). */
export type ActivationHistograms = Map<string, ActivationHistogram>;

export type CalibrationMethod = 'minmax' | 'percentile' | 'mse';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'mse'];

const side = (bins = HISTOGRAM_BINS): HistogramSide => ({ bins: new Float64Array(bins), top: 0, max: 0 });

export function emptyHistogram(bins = HISTOGRAM_BINS): ActivationHistogram {
  return { pos: side(bins), neg: side(bins), zeros: 0, count: 0 };
}

/** The smallest power of two strictly above v (v > 0). */
function topAbove(v: number): number {
  let t = 2 ** Math.ceil(Math.log2(v));
  while (t <= v) t *= 2;
  return t;
}

/** Makes the side hold values up to `v`: sets its first top, or doubles it, merging pairs of bins. */
function grow(s: HistogramSide, v: number): void {
  if (v <= 0) return;
  s.max = Math.max(s.max, v);
  if (s.top === 0) {
    s.top = topAbove(v);
    return;
  }
  const n = s.bins.length;
  while (v >= s.top) {
    for (let i = 0; i < n / 2; i++) s.bins[i] = s.bins[2 * i] + s.bins[2 * i + 1];
    s.bins.fill(0, n / 2);
    s.top *= 2;
  }
}

/** Adds values to the histogram of `name` (created on first use). Throws on NaN or Inf. */
export function observeHistogram(hists: ActivationHistograms, name: string, data: ArrayLike<number>): void {
  let h = hists.get(name);
  if (!h) hists.set(name, (h = emptyHistogram()));
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v > hi) hi = v;
    else if (v < lo) lo = v;
    else if (v !== v) throw new Error(`calibration: activation '${name}' is not finite (NaN in the network?)`);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`calibration: activation '${name}' is not finite (Inf in the network?)`);
  grow(h.pos, hi);
  grow(h.neg, -lo);
  const n = h.pos.bins.length;
  const p = h.pos.bins;
  const q = h.neg.bins;
  const ip = h.pos.top > 0 ? n / h.pos.top : 0;
  const iq = h.neg.top > 0 ? n / h.neg.top : 0;
  let zeros = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v > 0) p[Math.min(n - 1, Math.floor(v * ip))]++;
    else if (v < 0) q[Math.min(n - 1, Math.floor(-v * iq))]++;
    else zeros++;
  }
  h.zeros += zeros;
  h.count += data.length;
}

/** The clip of one side for `percentile` (e.g. 99.99): where at most (1 − p/100) of all values lie beyond. */
function percentileClip(s: HistogramSide, count: number, percentile: number): number {
  if (s.top === 0) return 0;
  const allowed = (1 - percentile / 100) * count;
  const w = s.top / s.bins.length;
  let beyond = 0;
  for (let i = s.bins.length - 1; i >= 0; i--) {
    if (beyond + s.bins[i] > allowed) return Math.min(s.max, (i + 1) * w);
    beyond += s.bins[i];
  }
  return 0;
}

/** Prefix sums over a side's bins (at bin centres) for O(1) tail errors: count, Σx, Σx² from bin k up. */
function tails(s: HistogramSide): { c: Float64Array; x: Float64Array; x2: Float64Array } {
  const n = s.bins.length;
  const w = s.top / n;
  const c = new Float64Array(n + 1);
  const x = new Float64Array(n + 1);
  const x2 = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    const m = (i + 0.5) * w;
    c[i] = c[i + 1] + s.bins[i];
    x[i] = x[i + 1] + s.bins[i] * m;
    x2[i] = x2[i + 1] + s.bins[i] * m * m;
  }
  return { c, x, x2 };
}

/** Clip candidates of a side: bin edges (up to `candidates` of them, evenly) up to its maximum, and the maximum itself. */
function candidatesOf(s: HistogramSide, candidates: number): number[] {
  if (s.top === 0) return [0];
  const w = s.top / s.bins.length;
  const last = Math.min(s.bins.length, Math.ceil(s.max / w));
  const out = new Set<number>();
  for (let j = 1; j <= candidates; j++) out.add(Math.max(1, Math.round((last * j) / candidates)));
  return [...out].map((k) => Math.min(s.max, k * w));
}

/**
 * The expected squared error of quantizing the histogram to 256 codes on [−clipNeg, clipPos]: values
 * inside round (error step²/12 each, zeros exact), values beyond are clipped ((|x| − clip)² each, at
 * bin centres). Exported for tests.
 */
export function histogramQuantError(h: ActivationHistogram, clipNeg: number, clipPos: number): number {
  const step = (clipNeg + clipPos) / 255;
  let err = 0;
  for (const [s, t] of [[h.pos, clipPos], [h.neg, clipNeg]] as const) {
    if (s.top === 0) continue;
    const w = s.top / s.bins.length;
    for (let i = 0; i < s.bins.length; i++) {
      if (!s.bins[i]) continue;
      const m = (i + 0.5) * w;
      err += s.bins[i] * (m <= t ? (step * step) / 12 : (m - t) * (m - t));
    }
  }
  return err;
}

/** The (clipNeg, clipPos) minimising `histogramQuantError` over bin-edge candidates (prefix sums: O(1) per pair). */
function mseClip(h: ActivationHistogram, candidates: number): [number, number] {
  const tp = tails(h.pos);
  const tn = tails(h.neg);
  const cp = candidatesOf(h.pos, candidates);
  const cn = candidatesOf(h.neg, candidates);
  // Per side, for a clip t: inside count and the clipping error of what lies beyond.
  const sideTerms = (s: HistogramSide, t: ReturnType<typeof tails>, clip: number) => {
    if (s.top === 0) return { inside: 0, clipped: 0 };
    const w = s.top / s.bins.length;
    // Bins whose centre is above the clip are clipped (as histogramQuantError counts them).
    const k = Math.min(s.bins.length, Math.max(0, Math.floor(clip / w - 0.5) + 1));
    return { inside: t.c[0] - t.c[k], clipped: t.x2[k] - 2 * clip * t.x[k] + clip * clip * t.c[k] };
  };
  const P = cp.map((c) => sideTerms(h.pos, tp, c));
  const N = cn.map((c) => sideTerms(h.neg, tn, c));
  let best = Infinity;
  let arg: [number, number] = [cn[cn.length - 1], cp[cp.length - 1]];
  for (let i = 0; i < cn.length; i++) {
    for (let j = 0; j < cp.length; j++) {
      const step = (cn[i] + cp[j]) / 255;
      const err = ((N[i].inside + P[j].inside) * step * step) / 12 + N[i].clipped + P[j].clipped;
      if (err < best) [best, arg] = [err, [cn[i], cp[j]]];
    }
  }
  return arg;
}

export interface RangeOptions {
  /** For 'percentile': the share of values kept on each side, in percent (default 99.99). */
  percentile?: number;
  /** For 'mse': clip candidates per side (default 256). */
  candidates?: number;
  /** Tensors that keep their min/max whatever the method (e.g. the logits: clipping the top would tie classes). */
  keepMinMax?: Iterable<string>;
}

/** The [lo, hi] of one histogram by `method` (lo ≤ 0 ≤ hi for a non-empty side). */
export function histogramRange(h: ActivationHistogram, method: CalibrationMethod, o: RangeOptions = {}): [number, number] {
  if (method === 'minmax') return [h.neg.max > 0 ? -h.neg.max : 0, h.pos.max];
  if (method === 'percentile') {
    const p = o.percentile ?? 99.99;
    if (!(p > 0 && p <= 100)) throw new Error(`calibration: percentile must be in (0, 100], got ${p}`);
    return [-percentileClip(h.neg, h.count, p), percentileClip(h.pos, h.count, p)];
  }
  const [n, p] = mseClip(h, o.candidates ?? 256);
  return [-n, p];
}

/**
 * Activation ranges for `mobileNetV2Tflite` by `method`, from the histograms of a calibration and
 * the exact min/max ranges it recorded beside them (used for 'minmax' and for `keepMinMax`; a tensor
 * whose values were all ≥ 0 keeps min ≥ 0, as `activationQuant` widens to 0 anyway).
 */
export function activationRanges(minmax: ActivationRanges, hists: ActivationHistograms, method: CalibrationMethod, o: RangeOptions = {}): ActivationRanges {
  if (method === 'minmax') return new Map(minmax);
  const keep = new Set(o.keepMinMax ?? []);
  const out: ActivationRanges = new Map();
  for (const [name, r] of minmax) {
    const h = hists.get(name);
    if (keep.has(name) || !h) {
      out.set(name, r);
      continue;
    }
    const [lo, hi] = histogramRange(h, method, o);
    // Never wider than what was seen (the histogram's bins round up).
    out.set(name, [Math.max(r[0], Math.min(lo, 0)), Math.min(r[1], Math.max(hi, 0))]);
  }
  return out;
}
