// f64 references for the int8 activation ranges (core export/tflite-ranges.ts): exact per-side
// percentiles by sorting, and the real squared error of TFLite's asymmetric int8 quantization of raw
// values for a range (no histogram, no noise model).

/** TFLite's per-tensor int8 parameters of [lo, hi] (widened to hold 0), as the writer sets them. */
export function int8Params(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const l = Math.min(lo, 0);
  const h = Math.max(hi, 0);
  const scale = h > l ? (h - l) / 255 : 1 / 255;
  return { scale, zeroPoint: Math.max(-128, Math.min(127, Math.round(-128 - l / scale))) };
}

/** x → int8 code → float, as a TFLite int8 tensor of range [lo, hi] holds it. */
export function fakeQuant(x: number, lo: number, hi: number): number {
  const { scale, zeroPoint } = int8Params(lo, hi);
  const q = Math.max(-128, Math.min(127, Math.round(x / scale) + zeroPoint));
  return (q - zeroPoint) * scale;
}

/** Mean squared error of `fakeQuant` over the values. */
export function quantMse(values: ArrayLike<number>, lo: number, hi: number): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    const d = fakeQuant(values[i], lo, hi) - values[i];
    s += d * d;
  }
  return s / values.length;
}

/**
 * Per side, the smallest clip with at most (1 − p/100) of all values beyond it: for x > 0 and for
 * |x|, x < 0 (0 for an empty side).
 */
export function exactPercentileClips(values: ArrayLike<number>, percentile: number): [number, number] {
  const allowed = Math.floor((1 - percentile / 100) * values.length);
  const side = (vals: number[]) => {
    if (!vals.length) return 0;
    vals.sort((a, b) => b - a); // descending: vals[allowed] is the largest value that must stay inside
    return allowed < vals.length ? vals[allowed] : 0;
  };
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] > 0) pos.push(values[i]);
    else if (values[i] < 0) neg.push(-values[i]);
  }
  return [side(neg), side(pos)];
}

/** The [lo, hi] minimising `quantMse` over a grid of clips per side (n steps up to the extremes). */
export function bruteForceMseRange(values: ArrayLike<number>, n: number): [number, number] {
  let min = 0;
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  let best = Infinity;
  let arg: [number, number] = [min, max];
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= n; j++) {
      const lo = (min * i) / n;
      const hi = (max * j) / n;
      const e = quantMse(values, lo, hi);
      if (e < best) [best, arg] = [e, [lo, hi]];
    }
  }
  return arg;
}
