// f64 reference of IEEE binary16 rounding (round to nearest, ties to even), written from the format's
// definition (10 fraction bits, exponents -14..15, subnormals below 2^-14), independent of the
// engine's bit-twiddling conversion in core/src/gpu/half.ts.

/** Largest finite f16. */
export const HALF_MAX = 65504;
/** Relative error of one rounding to f16 (half an ulp at 1: 2^-11). */
export const HALF_EPS = 2 ** -11;

export function roundHalfRef(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 rounded up just below a power of two
  if (2 ** (e + 1) <= a) e++;
  e = Math.max(e, -14);
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q) - 0.5) === 0) r = Math.trunc(q) % 2 === 0 ? Math.trunc(q) : Math.trunc(q) + 1; // ties to even
  const v = r * ulp;
  return Math.sign(x) * (v > HALF_MAX ? Infinity : v);
}

/** Every value rounded to f16 (the values an f16 tensor holds). */
export const halfRef = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, roundHalfRef);
