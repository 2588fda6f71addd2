// Adaptive rounding of the int8 convolution weights (in the spirit of AdaRound, Nagel et al. 2020:
// round each weight up or down to minimise the layer's output error on calibration data, instead of
// to the nearest code). A depthwise output channel sees only its own 3×3 input patch, so its output
// error from the weight rounding is Δwᵀ x with Δw the 9 rounding errors: over the calibration patches
// the mean part E[Δwᵀ x] is what bias correction removes, and what is left is Δwᵀ Cov(x) Δw. With 9
// weights per channel all 2⁹ up/down choices are tried, so the minimum is exact. Scales, zero points
// and the file format stay as they are: any TFLite runtime runs it.
// Statistics: per depthwise layer and channel, the sums of x_i and x_i·x_j over the 9 taps of input
// patches, at a bounded number of sampled output positions per batch (fixed memory: 9 + 45 values per
// channel). Platform-neutral, host-side.

/**
 * First and second moments (as sums) of a layer's inputs over `n` sampled positions, for `channels`
 * channels. Depthwise, per channel over its 3×3 patch: `s1[c*9+i]` = Σ x_i, `s2[c*45+k]` = Σ x_i·x_j
 * (i ≤ j, row-major). Pointwise, over the input vector: `s1[i]` = Σ x_i, `s2[i*C+j]` = Σ x_i·x_j (j ≥ i).
 */
export interface InputMoments {
  channels: number;
  s1: Float64Array;
  s2: Float64Array;
  n: number;
}

/** Patch moments by depthwise conv name (`block_3_depthwise`). */
export type DepthwiseMoments = Map<string, InputMoments>;

/** Output positions sampled per batch and layer (evenly spread). */
export const PATCH_SAMPLES = 512;

/**
 * Adds the 3×3 patches of `x` ([N,H,W,C], NHWC) that a stride-`stride` 'same'-padded depthwise
 * convolution reads, at up to `samples` evenly spread output positions, to `moments[name]`.
 */
export function accumulatePatchMoments(moments: DepthwiseMoments, name: string, x: ArrayLike<number>, shape: readonly number[], stride: number, samples = PATCH_SAMPLES): void {
  const [N, H, W, C] = shape;
  let m = moments.get(name);
  if (!m) moments.set(name, (m = { channels: C, s1: new Float64Array(C * 9), s2: new Float64Array(C * 45), n: 0 }));
  if (m.channels !== C) throw new Error(`calibration: '${name}' has ${C} channels, earlier ${m.channels}`);
  const Ho = Math.ceil(H / stride);
  const Wo = Math.ceil(W / stride);
  const top = Math.floor(Math.max((Ho - 1) * stride + 3 - H, 0) / 2);
  const left = Math.floor(Math.max((Wo - 1) * stride + 3 - W, 0) / 2);
  const total = N * Ho * Wo;
  const count = Math.min(samples, total);
  const p = new Float64Array(9);
  for (let k = 0; k < count; k++) {
    const pos = Math.floor(((k + 0.5) * total) / count);
    const b = Math.floor(pos / (Ho * Wo));
    const oy = Math.floor((pos % (Ho * Wo)) / Wo);
    const ox = pos % Wo;
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < 9; t++) {
        const y = oy * stride - top + Math.floor(t / 3);
        const xx = ox * stride - left + (t % 3);
        p[t] = y >= 0 && y < H && xx >= 0 && xx < W ? x[((b * H + y) * W + xx) * C + c] : 0;
      }
      const o1 = c * 9;
      const o2 = c * 45;
      let q = 0;
      for (let i = 0; i < 9; i++) {
        m.s1[o1 + i] += p[i];
        for (let j = i; j < 9; j++) m.s2[o2 + q++] += p[i] * p[j];
      }
    }
  }
  m.n += count;
}

/**
 * The 9×9 matrix whose quadratic form is the expected squared output error of a channel's weight
 * rounding: the covariance of its input patches (centred: `centred`, when bias correction removes
 * the mean error) or their second moment.
 */
export function patchMatrix(m: InputMoments, c: number, centred: boolean): Float64Array {
  const a = new Float64Array(81);
  const n = Math.max(1, m.n);
  let q = 0;
  for (let i = 0; i < 9; i++) {
    for (let j = i; j < 9; j++) {
      let v = m.s2[c * 45 + q++] / n;
      if (centred) v -= (m.s1[c * 9 + i] / n) * (m.s1[c * 9 + j] / n);
      a[i * 9 + j] = a[j * 9 + i] = v;
    }
  }
  return a;
}

/**
 * Re-rounds one channel's 9 int8 weights: each w/s goes to floor or ceil (within [−127, 127]),
 * choosing the combination that minimises Δwᵀ A Δw (Δw = w − q·s). `w(t)` is tap t's float weight,
 * `q` the 9 codes to overwrite. Returns the error before and after (nearest rounding is one of the
 * candidates, so after ≤ before).
 */
export function roundChannel(w: (t: number) => number, s: number, A: Float64Array, q: Int8Array | number[], at: (t: number) => number): { before: number; after: number } {
  const lo = new Float64Array(9);
  const hi = new Float64Array(9);
  const near = new Float64Array(9);
  for (let t = 0; t < 9; t++) {
    const r = w(t) / s;
    const f = Math.max(-127, Math.min(127, Math.floor(r)));
    const c = Math.max(-127, Math.min(127, Math.ceil(r)));
    lo[t] = w(t) - f * s;
    hi[t] = w(t) - c * s;
    near[t] = w(t) - Math.max(-127, Math.min(127, Math.round(r))) * s;
  }
  const quad = (d: Float64Array) => {
    let e = 0;
    for (let i = 0; i < 9; i++) {
      let r = 0;
      for (let j = 0; j < 9; j++) r += A[i * 9 + j] * d[j];
      e += d[i] * r;
    }
    return e;
  };
  const before = quad(near);
  let best = before;
  let bestMask = -1;
  const d = new Float64Array(9);
  for (let mask = 0; mask < 512; mask++) {
    for (let t = 0; t < 9; t++) d[t] = mask & (1 << t) ? hi[t] : lo[t];
    const e = quad(d);
    if (e < best) [best, bestMask] = [e, mask];
  }
  if (bestMask >= 0) {
    for (let t = 0; t < 9; t++) {
      const r = w(t) / s;
      q[at(t)] = Math.max(-127, Math.min(127, bestMask & (1 << t) ? Math.ceil(r) : Math.floor(r)));
    }
  }
  return { before, after: best };
}

// ---------------------------------------------------------------- pointwise (1×1) convolutions
// A pointwise output channel's error from rounding is Δwᵀ x over all Cin inputs: too many weights to
// try every choice, so its rows are rounded one input at a time, each rounding error compensated by
// the weights not yet rounded, weighted by the inverse input covariance (GPTQ, Frantar et al. 2022,
// after Optimal Brain Quantization). The scales stay max|w|/127 per channel as the converter sets them.

/** Input moments by pointwise conv name (`block_3_project`). */
export type PointwiseMoments = Map<string, InputMoments>;

/** Input positions sampled per batch and pointwise layer (evenly spread). */
export const INPUT_SAMPLES = 256;

/** Adds up to `samples` evenly spread positions of `x` ([N,H,W,C]) to `moments[name]`. */
export function accumulateInputMoments(moments: PointwiseMoments, name: string, x: ArrayLike<number>, shape: readonly number[], samples = INPUT_SAMPLES): void {
  const C = shape[shape.length - 1];
  const total = x.length / C;
  let m = moments.get(name);
  if (!m) moments.set(name, (m = { channels: C, s1: new Float64Array(C), s2: new Float64Array(C * C), n: 0 }));
  if (m.channels !== C) throw new Error(`calibration: '${name}' has ${C} input channels, earlier ${m.channels}`);
  const count = Math.min(samples, total);
  const v = new Float64Array(C);
  for (let k = 0; k < count; k++) {
    const pos = Math.floor(((k + 0.5) * total) / count);
    for (let i = 0; i < C; i++) v[i] = x[pos * C + i];
    for (let i = 0; i < C; i++) {
      const a = v[i];
      if (a === 0) continue; // ReLU zeros: nothing to add
      m.s1[i] += a;
      const row = i * C;
      for (let j = i; j < C; j++) m.s2[row + j] += a * v[j];
    }
  }
  m.n += count;
}

/** The C×C input covariance (`centred`) or second moment, full symmetric. */
export function inputMatrix(m: InputMoments, centred: boolean): Float64Array {
  const C = m.channels;
  const n = Math.max(1, m.n);
  const a = new Float64Array(C * C);
  for (let i = 0; i < C; i++) {
    for (let j = i; j < C; j++) {
      let v = m.s2[i * C + j] / n;
      if (centred) v -= (m.s1[i] / n) * (m.s1[j] / n);
      a[i * C + j] = a[j * C + i] = v;
    }
  }
  return a;
}

/** Lower Cholesky factor of a symmetric positive definite n×n matrix (in place of a copy); null if it is not. */
function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) return null;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Inverse of a symmetric positive definite matrix from its lower Cholesky factor. */
function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  // L⁻¹ (lower), then A⁻¹ = L⁻ᵀ L⁻¹.
  const li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    li[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * n + k] * li[k * n + j];
      li[i * n + j] = s / l[i * n + i];
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = j; k < n; k++) s += li[k * n + i] * li[k * n + j];
      inv[i * n + j] = inv[j * n + i] = s;
    }
  }
  return inv;
}

/**
 * Rounds the rows of `w` ([rows, n], row-major: one output channel per row) to int8 codes at
 * `scales[row]`, minimising Σ_rows Δwᵀ A Δw (A = `inputMatrix`) approximately: inputs in order, each
 * column rounded to nearest after the earlier columns' errors were spread onto it through A⁻¹
 * (`damp` × mean diagonal is added to A first). Returns the codes (row-major, as `w`).
 */
export function gptqRound(w: ArrayLike<number>, rows: number, n: number, scales: readonly number[], A: Float64Array, damp = 0.01): Int8Array {
  const h = Float64Array.from(A);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += h[i * n + i] / n;
  const add = damp * (mean > 0 ? mean : 1);
  for (let i = 0; i < n; i++) h[i * n + i] = (h[i * n + i] > 0 ? h[i * n + i] : mean > 0 ? mean : 1) + add;
  const q = new Int8Array(rows * n);
  const l = cholesky(h, n);
  const nearest = () => {
    for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) q[r * n + i] = Math.max(-127, Math.min(127, Math.round(w[r * n + i] / scales[r])));
    return q;
  };
  if (!l) return nearest();
  const u = cholesky(inverseFromCholesky(l, n), n); // lower L' of A⁻¹; GPTQ's upper factor is L'ᵀ
  if (!u) return nearest();
  const row = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const s = scales[r];
    for (let i = 0; i < n; i++) row[i] = w[r * n + i];
    for (let i = 0; i < n; i++) {
      const c = Math.max(-127, Math.min(127, Math.round(row[i] / s)));
      q[r * n + i] = c;
      const err = (row[i] - c * s) / u[i * n + i];
      for (let j = i + 1; j < n; j++) row[j] -= err * u[j * n + i];
    }
  }
  return q;
}

/** What adaptive rounding needs from a calibration: patch moments of the depthwise layers, input moments of the pointwise ones. */
export interface RoundingMoments {
  depthwise: DepthwiseMoments;
  pointwise: PointwiseMoments;
}

export const emptyRoundingMoments = (): RoundingMoments => ({ depthwise: new Map(), pointwise: new Map() });
