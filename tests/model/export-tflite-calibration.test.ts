// int8 calibration beyond min/max, against f64 references and run by LiteRT.js (an independent runtime):
//  - activation ranges from bounded histograms (core export/tflite-ranges.ts; tests/reference/
//    int8-ranges.ts): after a calibration with one outlier, percentile and MSE ranges are tighter than
//    min/max and the int8 graph's error to float is lower;
//  - adaptive rounding of depthwise weights (core export/tflite-rounding.ts; tests/reference/
//    int8-rounding.ts): patch moments equal the reference patches', the chosen rounding is the exact
//    minimum of the output error over all up/down choices, and the int8 depthwise graph's error to
//    float is lower than with nearest rounding.
import { describe, it, expect } from 'vitest';
import {
  accumulateInputMoments,
  accumulatePatchMoments,
  activationRanges,
  emptyHistogram,
  encodeTflite,
  histogramQuantError,
  gptqRound,
  histogramRange,
  HISTOGRAM_BINS,
  inputMatrix,
  observeHistogram,
  patchMatrix,
  roundChannel,
  type ActivationHistograms,
  type DepthwiseMoments,
  type PointwiseMoments,
  type ActivationRanges,
  type CalibrationMethod,
  type TfliteWriterGraph,
} from '@mnv2/core';
import { rng } from '../helpers/random.js';
import { liteRtModel } from '../helpers/litert.js';
import { bruteForceMseRange, exactPercentileClips, int8Params, quantMse } from '../reference/int8-ranges.js';
import { depthwisePatches, roundingOutputError } from '../reference/int8-rounding.js';

/** Laplace-distributed values (heavy-ish tails, like pre-activation outputs), shifted, plus `outliers`. */
function laplace(n: number, seed: number, b: number, shift = 0, outliers: number[] = []): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n + outliers.length);
  for (let i = 0; i < n; i++) {
    const u = r() - 0.5;
    a[i] = shift - b * Math.sign(u) * Math.log(1 - 2 * Math.abs(u) + 1e-12);
  }
  a.set(outliers, n);
  return a;
}

const hist = (...batches: ArrayLike<number>[]) => {
  const h: ActivationHistograms = new Map();
  for (const b of batches) observeHistogram(h, 't', b);
  return h.get('t')!;
};

describe('int8 activation ranges: histograms against f64 references', () => {
  it('a histogram that grows (bins merge in pairs) equals one built at the final width; counts, zeros and extremes are exact', () => {
    const small = laplace(5000, 1, 0.2);
    const big = laplace(5000, 2, 3, 0, [40]);
    const zeros = new Float32Array(123);
    const grown = hist(small, zeros, big);
    const all = Float32Array.from([...small, ...zeros, ...big]);
    const once = hist(all);
    const lowest = -Math.min(...all);
    expect(grown.pos.top).toBe(64); // 40 < 64: the power of two above the largest value
    expect(grown.neg.top).toBe(2 ** Math.ceil(Math.log2(lowest + 1e-9)));
    expect(Array.from(grown.pos.bins)).toEqual(Array.from(once.pos.bins));
    expect(Array.from(grown.neg.bins)).toEqual(Array.from(once.neg.bins));
    expect(grown.count).toBe(small.length + big.length + zeros.length);
    expect(grown.zeros).toBe(123);
    expect(grown.pos.max).toBe(40);
    expect(grown.neg.max).toBe(lowest);
    expect(grown.pos.bins.length).toBe(HISTOGRAM_BINS); // bounded: the same bins whatever the data
    expect(() => hist(Float32Array.from([1, NaN]))).toThrow(/not finite/);
    expect(() => hist(Float32Array.from([1, Infinity]))).toThrow(/not finite/);
  });

  it('percentile clips are the exact per-side percentiles, rounded up to the bin edge', () => {
    const v = laplace(200_000, 3, 0.5, 0.3, [25, 30, -20]);
    const h = hist(v);
    for (const p of [99, 99.9, 99.99, 99.999]) {
      const [lo, hi] = histogramRange(h, 'percentile', { percentile: p });
      const [n, q] = exactPercentileClips(v, p);
      expect(hi - q, `p ${p}: positive side`).toBeGreaterThanOrEqual(0);
      expect(hi - q).toBeLessThanOrEqual(h.pos.top / HISTOGRAM_BINS);
      expect(-lo - n, `p ${p}: negative side`).toBeGreaterThanOrEqual(0);
      expect(-lo - n).toBeLessThanOrEqual(h.neg.top / HISTOGRAM_BINS);
    }
    expect(histogramRange(h, 'percentile', { percentile: 100 })).toEqual([-20, 30]);
    expect(histogramRange(h, 'minmax')).toEqual([-20, 30]);
  });

  it("the MSE search finds the minimum of the histogram's error, and its range's real int8 error is within 2 % of a brute-force optimum on the raw values", () => {
    for (const [seed, v] of [
      [4, laplace(20_000, 4, 0.5, 0.2, Array.from(laplace(20, 40, 4)))], // signed, a few wide outliers
      [5, Float32Array.from(laplace(20_000, 5, 1, 0.5), (x) => Math.min(6, Math.max(0, x)))], // ReLU6: zeros and a pile at 6
    ] as const) {
      const h = hist(v);
      const [lo, hi] = histogramRange(h, 'mse');
      // The prefix-sum search against the error evaluated bin by bin on a grid of clips.
      const best = histogramQuantError(h, -lo, hi);
      const edges = (top: number, max: number) => Array.from({ length: 48 }, (_, i) => Math.min(max, (top * (i + 1)) / 96));
      for (const n of h.neg.top ? edges(h.neg.top, h.neg.max) : [0]) for (const p of edges(h.pos.top, h.pos.max)) expect(best, `seed ${seed}: clip [-${n}, ${p}]`).toBeLessThanOrEqual(histogramQuantError(h, n, p) * (1 + 1e-9));
      // Real int8 rounding of the raw values (f64 reference): tighter than min/max, and near the best clip.
      const [rlo, rhi] = bruteForceMseRange(v, 50);
      const minmax = histogramRange(h, 'minmax');
      const mseErr = quantMse(v, lo, hi);
      expect(hi - lo).toBeLessThanOrEqual(minmax[1] - minmax[0]);
      expect(mseErr).toBeLessThanOrEqual(quantMse(v, ...minmax));
      expect(mseErr).toBeLessThanOrEqual(quantMse(v, rlo, rhi) * 1.02);
    }
  });

  it('activationRanges: min/max as recorded, the named tensors untouched, never wider than what was seen', () => {
    const minmax: ActivationRanges = new Map([
      ['a', [-12, 30]],
      ['logits', [-5, 9]],
      ['relu', [0, 6]],
    ]);
    const hists: ActivationHistograms = new Map([
      ['a', hist(laplace(20_000, 6, 0.5, 0, [30, -12]))],
      ['logits', hist(laplace(20_000, 7, 0.5, 0, [9, -5]))],
      ['relu', hist(Float32Array.from(laplace(20_000, 8, 1, 1), (x) => Math.min(6, Math.max(0, x))))],
    ]);
    expect(activationRanges(minmax, hists, 'minmax')).toEqual(minmax);
    for (const m of ['percentile', 'mse'] as CalibrationMethod[]) {
      const r = activationRanges(minmax, hists, m, { keepMinMax: ['logits'] });
      expect(r.get('logits')).toEqual([-5, 9]);
      const [lo, hi] = r.get('a')!;
      expect(lo).toBeGreaterThan(-12);
      expect(hi).toBeLessThan(30);
      expect(lo).toBeLessThan(0);
      expect(r.get('relu')![0]).toBe(0);
      expect(r.get('relu')![1]).toBeLessThanOrEqual(6);
    }
    expect(histogramRange(emptyHistogram(), 'mse')).toEqual([-0, 0]);
  });
});

// ------------------------------------------------------------ LiteRT.js on a graph with these ranges

/**
 * float input → QUANTIZE (int8 on `inRange`) → CONV_2D or DEPTHWISE_CONV_2D (int8 codes `q` at per-channel
 * `scales`, zero biases) → int8 output on `outRange` → QUANTIZE to uint8 (LiteRT.js reads uint8, not
 * int8). Weights: CONV_2D [C,1,1,C] (1×1), DEPTHWISE_CONV_2D [1,3,3,C].
 */
function int8ConvGraph(op: 'CONV_2D' | 'DEPTHWISE_CONV_2D', shape: number[], q: Int8Array, scales: number[], inRange: [number, number], outRange: [number, number]): TfliteWriterGraph {
  const C = shape[3];
  const xin = int8Params(...inRange);
  const out = int8Params(...outRange);
  const zeros = scales.map(() => 0);
  const dw = op === 'DEPTHWISE_CONV_2D';
  return {
    tensors: [
      { name: 'input', shape, type: 'FLOAT32' },
      { name: 'x', shape, type: 'INT8', quant: { scale: [xin.scale], zeroPoint: [xin.zeroPoint] } },
      { name: 'w', shape: dw ? [1, 3, 3, C] : [C, 1, 1, C], type: 'INT8', data: new Uint8Array(q.buffer, q.byteOffset, q.byteLength), quant: { scale: scales, zeroPoint: zeros, dimension: dw ? 3 : 0 } },
      { name: 'b', shape: [C], type: 'INT32', data: new Uint8Array(4 * C), quant: { scale: scales.map((s) => s * xin.scale), zeroPoint: zeros, dimension: 0 } },
      { name: 'y', shape, type: 'INT8', quant: { scale: [out.scale], zeroPoint: [out.zeroPoint] } },
      { name: 'y_uint8', shape, type: 'UINT8', quant: { scale: [out.scale], zeroPoint: [out.zeroPoint + 128] } },
    ],
    ops: [
      { op: 'QUANTIZE', inputs: [0], outputs: [1] },
      { op, inputs: [1, 2, 3], outputs: [4], stride: 1, activation: 'NONE' },
      { op: 'QUANTIZE', inputs: [4], outputs: [5] },
    ],
    inputs: [0],
    outputs: [5],
  };
}

describe('int8 activation ranges: LiteRT.js runs the graph each method quantizes', () => {
  it('after a calibration with one outlier, percentile and MSE ranges give a lower error to float than min/max', async () => {
    const C = 8;
    const M = 4096;
    const r = rng(9);
    const weights = Int8Array.from({ length: C * C }, () => Math.round((r() - 0.5) * 128));
    const conv = (x: ArrayLike<number>) => {
      // f64 reference of the float model: y[m,o] = Σ_i x[m,i] · W[o,i]/64 (inputs as the int8 input holds them).
      const y = new Float64Array(x.length);
      for (let m = 0; m < x.length / C; m++) for (let o = 0; o < C; o++) for (let i = 0; i < C; i++) y[m * C + o] += x[m * C + i] * (weights[o * C + i] / 64);
      return y;
    };
    const inRange: [number, number] = [-4, 4];
    const step = int8Params(...inRange).scale;
    const onGrid = (a: Float32Array) => a.map((v) => Math.round(Math.max(-4, Math.min(127 * step, v)) / step) * step);
    // Calibration: 64x the test's rows of small values, and one row 25x larger (an outlier image);
    // test data: no outlier.
    const calib = onGrid(laplace(64 * M * C, 10, 0.15));
    calib.fill(3.9, 0, C);
    const test = onGrid(laplace(M * C, 11, 0.15));
    const hists: ActivationHistograms = new Map();
    const yCal = conv(calib);
    observeHistogram(hists, 'y', yCal);
    let [mn, mx] = [0, 0];
    for (const v of yCal) [mn, mx] = [Math.min(mn, v), Math.max(mx, v)];
    const minmax: ActivationRanges = new Map([['y', [mn, mx]]]);
    const yRef = conv(test);

    const errors: Record<string, number> = {};
    for (const method of ['minmax', 'percentile', 'mse'] as CalibrationMethod[]) {
      const range = activationRanges(minmax, hists, method, { percentile: 99.99 }).get('y')!;
      if (method !== 'minmax') expect(range[1] - range[0], `${method}: tighter than min/max`).toBeLessThan((mx - mn) / 2);
      const model = await liteRtModel(encodeTflite(int8ConvGraph('CONV_2D', [1, 1, M, C], weights, Array(C).fill(1 / 64), inRange, range)));
      const out = await model.run(test, [1, 1, M, C]);
      model.delete();
      const { scale, zeroPoint: zp8 } = int8Params(...range);
      const zeroPoint = zp8 + 128; // the uint8 output's
      let err = 0;
      for (let i = 0; i < out.length; i++) err += ((out[i] - zeroPoint) * scale - yRef[i]) ** 2;
      errors[method] = Math.sqrt(err / out.length);
      // The runtime's int8 output is the reference rounded into the range (within one step).
      for (let i = 0; i < 64; i++) expect(Math.abs((out[i] - zeroPoint) * scale - Math.max(range[0], Math.min(range[1], yRef[i])))).toBeLessThanOrEqual(scale * 1.01);
    }
    console.log(`[int8 ranges] LiteRT rms error to float: minmax ${errors.minmax.toExponential(2)}, percentile ${errors.percentile.toExponential(2)}, mse ${errors.mse.toExponential(2)}`);
    expect(errors.percentile).toBeLessThan(errors.minmax * 0.8);
    expect(errors.mse).toBeLessThan(errors.minmax / 2);
  }, 60_000);
});

// ------------------------------------------------------------ adaptive rounding of depthwise weights

/** Smooth random images [N,H,W,C] around `mean` (neighbouring taps correlate, as in real feature maps). */
function smoothImages(shape: number[], seed: number, mean: number, noise: number): Float64Array {
  const [N, H, W, C] = shape;
  const r = rng(seed);
  const x = new Float64Array(N * H * W * C);
  for (let b = 0; b < N; b++) {
    for (let c = 0; c < C; c++) {
      const fy = 0.3 + r();
      const fx = 0.3 + r();
      const ph = 6 * r();
      for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) x[((b * H + y) * W + xx) * C + c] = mean + noise * (Math.sin(fy * y + ph) * Math.cos(fx * xx) + 0.3 * (r() - 0.5));
    }
  }
  return x;
}

describe('int8 adaptive rounding of depthwise weights: against f64 references', () => {
  it('patch moments equal the sums over the reference patches (stride 1 and 2, odd and even sizes)', () => {
    for (const [shape, stride] of [
      [[2, 7, 6, 5], 1],
      [[2, 8, 8, 3], 2],
      [[1, 9, 7, 4], 2],
    ] as [number[], number][]) {
      const x = smoothImages(shape, 12, 0.5, 1);
      const m: DepthwiseMoments = new Map();
      accumulatePatchMoments(m, 'dw', x, shape, stride, 1 << 20); // every output position
      const got = m.get('dw')!;
      const C = shape[3];
      for (let c = 0; c < C; c++) {
        const ps = depthwisePatches(x, shape, stride, c);
        expect(got.n).toBe(ps.length);
        let k = 0;
        for (let i = 0; i < 9; i++) {
          expect(got.s1[c * 9 + i]).toBeCloseTo(ps.reduce((a, p) => a + p[i], 0), 9);
          for (let j = i; j < 9; j++) expect(got.s2[c * 45 + k++]).toBeCloseTo(ps.reduce((a, p) => a + p[i] * p[j], 0), 9);
        }
      }
      const sampled: DepthwiseMoments = new Map();
      accumulatePatchMoments(sampled, 'dw', x, shape, stride, 10);
      expect(sampled.get('dw')!.n).toBe(10);
    }
  });

  it("a channel's rounding is the exact minimum of its output error over all 512 up/down choices (centred and not)", () => {
    const shape = [3, 10, 10, 6];
    const x = smoothImages(shape, 13, 2, 1);
    const m: DepthwiseMoments = new Map();
    accumulatePatchMoments(m, 'dw', x, shape, 1, 1 << 20);
    const r = rng(14);
    let improved = 0;
    for (const centred of [true, false]) {
      for (let c = 0; c < 6; c++) {
        const w = Array.from({ length: 9 }, () => r() - 0.5);
        const s = Math.max(...w.map(Math.abs)) / 127;
        const near = w.map((v) => Math.round(v / s));
        const q = [...near];
        const { before, after } = roundChannel((t) => w[t], s, patchMatrix(m.get('dw')!, c, centred), q, (t) => t);
        const ps = depthwisePatches(x, shape, 1, c);
        const err = roundingOutputError(ps, w, q, s, centred);
        expect(before).toBeCloseTo(roundingOutputError(ps, w, near, s, centred), 12);
        expect(after).toBeCloseTo(err, 12);
        for (let t = 0; t < 9; t++) expect([Math.floor(w[t] / s), Math.ceil(w[t] / s)]).toContain(q[t]);
        let best = Infinity;
        for (let mask = 0; mask < 512; mask++) best = Math.min(best, roundingOutputError(ps, w, w.map((v, t) => (mask & (1 << t) ? Math.ceil(v / s) : Math.floor(v / s))), s, centred));
        expect(err).toBeLessThanOrEqual(best * (1 + 1e-9) + 1e-18);
        if (err < 0.9 * before) improved++;
      }
    }
    expect(improved, 'channels whose error fell by more than 10 %').toBeGreaterThan(6);
  });
});

describe('int8 adaptive rounding of pointwise weights (GPTQ): against f64 references', () => {
  it('input moments equal the reference sums; the rounded rows make less output error on correlated inputs than nearest codes', () => {
    const shape = [2, 12, 12, 24];
    const [N, H, W, C] = shape;
    const x = smoothImages(shape, 18, 1, 1);
    for (let i = 0; i < x.length; i += 5) x[i] = Math.max(0, x[i] - 1.2); // some ReLU zeros too
    const m: PointwiseMoments = new Map();
    accumulateInputMoments(m, 'pw', x, shape, 1 << 20);
    const got = m.get('pw')!;
    expect(got.n).toBe(N * H * W);
    for (let i = 0; i < C; i++) {
      let s1 = 0;
      for (let p = 0; p < N * H * W; p++) s1 += x[p * C + i];
      expect(got.s1[i]).toBeCloseTo(s1, 9);
      for (let j = i; j < C; j += 5) {
        let s2 = 0;
        for (let p = 0; p < N * H * W; p++) s2 += x[p * C + i] * x[p * C + j];
        expect(got.s2[i * C + j]).toBeCloseTo(s2, 9);
      }
    }
    // Output error over every input position, in f64: Σ_p Σ_o ((w_o − q_o·s_o)·x_p − mean)².
    const rows = 10;
    const r = rng(19);
    const w = Float64Array.from({ length: rows * C }, () => r() - 0.5);
    const scales = Array.from({ length: rows }, (_, o) => Math.max(...Array.from({ length: C }, (_, i) => Math.abs(w[o * C + i]))) / 127);
    const outputError = (q: ArrayLike<number>, centred: boolean) => {
      let total = 0;
      for (let o = 0; o < rows; o++) {
        const e = Array.from({ length: N * H * W }, (_, p) => {
          let v = 0;
          for (let i = 0; i < C; i++) v += (w[o * C + i] - q[o * C + i] * scales[o]) * x[p * C + i];
          return v;
        });
        const mean = centred ? e.reduce((a, b) => a + b, 0) / e.length : 0;
        total += e.reduce((a, v) => a + (v - mean) ** 2, 0);
      }
      return total;
    };
    const nearest = Int8Array.from(w, (v, k) => Math.round(v / scales[Math.floor(k / C)]));
    for (const centred of [true, false]) {
      const q = gptqRound(w, rows, C, scales, inputMatrix(got, centred));
      for (let k = 0; k < q.length; k++) expect(Math.abs(q[k] * scales[Math.floor(k / C)] - w[k]), 'codes stay near the weights').toBeLessThanOrEqual(4 * scales[Math.floor(k / C)]);
      expect(outputError(q, centred), `centred ${centred}`).toBeLessThan(0.8 * outputError(nearest, centred));
    }
  });
});

describe('int8 adaptive rounding: LiteRT.js runs the depthwise graph', () => {
  it('on inputs with a large mean (as after a folded BatchNorm), adaptive rounding gives a lower error to float than nearest', async () => {
    const shape = [1, 16, 16, 16];
    const C = shape[3];
    const step = int8Params(-4, 4).scale;
    const onGrid = (a: Float64Array) => Float32Array.from(a, (v) => Math.round(Math.max(-4, Math.min(127 * step, v)) / step) * step);
    const calib = onGrid(smoothImages([4, 16, 16, C], 15, 2.5, 0.8));
    const test = onGrid(smoothImages(shape, 16, 2.5, 0.8));
    const r = rng(17);
    // [3,3,C], each channel's taps nearly cancelling (Σw small next to max |w|, as when a folded
    // BatchNorm removes a large input mean): the rounding errors' sum then dominates the output error.
    const w = Float64Array.from({ length: 9 * C }, () => (r() - 0.5) / 4);
    for (let c = 0; c < C; c++) {
      let m = 0;
      for (let t = 0; t < 9; t++) m += w[t * C + c] / 9;
      for (let t = 0; t < 9; t++) w[t * C + c] -= 0.95 * m;
    }
    const scales = Array.from({ length: C }, (_, c) => Math.max(...Array.from({ length: 9 }, (_, t) => Math.abs(w[t * C + c]))) / 127);
    const nearest = Int8Array.from(w, (v, i) => Math.round(v / scales[i % C]));
    const adaptive = Int8Array.from(nearest);
    const m: DepthwiseMoments = new Map();
    accumulatePatchMoments(m, 'dw', calib, [4, 16, 16, C], 1);
    for (let c = 0; c < C; c++) roundChannel((t) => w[t * C + c], scales[c], patchMatrix(m.get('dw')!, c, false), adaptive, (t) => t * C + c);
    // f64 float reference on the test image (inputs as the int8 input holds them), and its range.
    const ref = new Float64Array(test.length);
    for (let c = 0; c < C; c++) depthwisePatches(test, shape, 1, c).forEach((p, i) => (ref[i * C + c] = p.reduce((a, v, t) => a + v * w[t * C + c], 0)));
    let [lo, hi] = [0, 0];
    for (const v of ref) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    const rms: Record<string, number> = {};
    for (const [name, q] of [['nearest', nearest], ['adaptive', adaptive]] as const) {
      const model = await liteRtModel(encodeTflite(int8ConvGraph('DEPTHWISE_CONV_2D', shape, q, scales, [-4, 4], [lo, hi])));
      const out = await model.run(test, shape);
      model.delete();
      const { scale, zeroPoint: zp8 } = int8Params(lo, hi);
      const zeroPoint = zp8 + 128;
      let e2 = 0;
      for (let i = 0; i < out.length; i++) e2 += ((out[i] - zeroPoint) * scale - ref[i]) ** 2;
      rms[name] = Math.sqrt(e2 / out.length);
    }
    console.log(`[int8 rounding] LiteRT depthwise rms error to float: nearest ${rms.nearest.toExponential(2)}, adaptive ${rms.adaptive.toExponential(2)}`);
    expect(rms.adaptive).toBeLessThan(rms.nearest * 0.8);
  }, 60_000);
});
