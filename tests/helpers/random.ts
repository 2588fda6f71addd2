// Seeded random numbers (mulberry32) so failures reproduce.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi), as f64 (Float64Array) and the same values rounded to f32. */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(lo + (hi - lo) * r());
  return a;
}

/** Values kept at least `gap` away from the given kinks (e.g. ReLU6's 0 and 6). */
export function randAwayFrom(n: number, seed: number, lo: number, hi: number, kinks: number[], gap: number): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = Math.fround(lo + (hi - lo) * r());
    while (kinks.some((k) => Math.abs(v - k) < gap));
    a[i] = v;
  }
  return a;
}

export const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
export const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
