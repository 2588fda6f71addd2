// f64 references for element-wise ops, global pooling and dropout. NHWC, shapes [N, H, W, C].

export const addRef = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);

export function globalAvgPoolRef(x: Float64Array, shape: readonly number[]): Float64Array {
  const [n, h, w, c] = shape;
  const y = new Float64Array(n * c);
  for (let b = 0; b < n; b++) for (let r = 0; r < h * w; r++) for (let ch = 0; ch < c; ch++) y[b * c + ch] += x[(b * h * w + r) * c + ch] / (h * w);
  return y;
}

export function globalAvgPoolBackwardRef(dy: Float64Array, shape: readonly number[]): Float64Array {
  const [n, h, w, c] = shape;
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) for (let r = 0; r < h * w; r++) for (let ch = 0; ch < c; ch++) dx[(b * h * w + r) * c + ch] = dy[b * c + ch] / (h * w);
  return dx;
}

export function globalMaxPoolRef(x: Float64Array, shape: readonly number[]): Float64Array {
  const [n, h, w, c] = shape;
  const y = new Float64Array(n * c).fill(-Infinity);
  for (let b = 0; b < n; b++) for (let r = 0; r < h * w; r++) for (let ch = 0; ch < c; ch++) y[b * c + ch] = Math.max(y[b * c + ch], x[(b * h * w + r) * c + ch]);
  return y;
}

/** Ties share the gradient equally (TensorFlow's reduce_max gradient). */
export function globalMaxPoolBackwardRef(x: Float64Array, dy: Float64Array, shape: readonly number[]): Float64Array {
  const [n, h, w, c] = shape;
  const y = globalMaxPoolRef(x, shape);
  const count = new Float64Array(n * c);
  for (let b = 0; b < n; b++) for (let r = 0; r < h * w; r++) for (let ch = 0; ch < c; ch++) if (x[(b * h * w + r) * c + ch] === y[b * c + ch]) count[b * c + ch]++;
  const dx = new Float64Array(x.length);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < h * w; r++)
      for (let ch = 0; ch < c; ch++) {
        const i = (b * h * w + r) * c + ch;
        if (x[i] === y[b * c + ch]) dx[i] = dy[b * c + ch] / count[b * c + ch];
      }
  return dx;
}

// Dropout mask: the spec of kernels/elementwise/dropout.ts, written out independently here.
function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** 1 where element i is kept by dropout(rate, seed), else 0. */
export function dropoutMaskRef(n: number, rate: number, seed: number): Uint8Array {
  const key = pcg((seed ^ 0x9e3779b9) >>> 0);
  const threshold = Math.min(0xffffffff, Math.floor(rate * 2 ** 32));
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = pcg((pcg(i) ^ key) >>> 0) >= threshold ? 1 : 0;
  return m;
}

export function dropoutRef(x: Float64Array, rate: number, seed: number): Float64Array {
  const m = dropoutMaskRef(x.length, rate, seed);
  return x.map((v, i) => (m[i] ? v / (1 - rate) : 0));
}
