import { seededRandom } from '@mnv2/core';
// Seeded random numbers so failures reproduce.
/** The engine's own seeded generator (mulberry32), so test data and weight init share one RNG. */
export const rng = (seed: number): (() => number) => seededRandom(seed);

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
