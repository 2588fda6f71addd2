// f64 references for adaptive rounding of depthwise weights (core export/tflite-rounding.ts): the
// 3×3 input patches a 'same'-padded depthwise convolution reads (TF padding: total = max((out−1)·s +
// 3 − in, 0), floor(total/2) before), and the output error of a channel's rounded weights over them.

/** Every patch (9 values, taps row-major) of channel c of x [N,H,W,C], one per output position. */
export function depthwisePatches(x: ArrayLike<number>, shape: readonly number[], stride: number, c: number): Float64Array[] {
  const [N, H, W, C] = shape;
  const Ho = Math.ceil(H / stride);
  const Wo = Math.ceil(W / stride);
  const padTop = Math.floor(Math.max((Ho - 1) * stride + 3 - H, 0) / 2);
  const padLeft = Math.floor(Math.max((Wo - 1) * stride + 3 - W, 0) / 2);
  const out: Float64Array[] = [];
  for (let b = 0; b < N; b++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const p = new Float64Array(9);
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const y = oy * stride - padTop + ky;
            const xx = ox * stride - padLeft + kx;
            if (y >= 0 && y < H && xx >= 0 && xx < W) p[ky * 3 + kx] = x[((b * H + y) * W + xx) * C + c];
          }
        }
        out.push(p);
      }
    }
  }
  return out;
}

/**
 * Mean squared output error of weights `w` rounded to codes `q` at scale `s` over the patches:
 * Σ_t (w_t − q_t·s)·x_t per patch; `centred` subtracts its mean first (what bias correction leaves).
 */
export function roundingOutputError(patches: Float64Array[], w: ArrayLike<number>, q: ArrayLike<number>, s: number, centred: boolean): number {
  const e = patches.map((p) => {
    let v = 0;
    for (let t = 0; t < 9; t++) v += (w[t] - q[t] * s) * p[t];
    return v;
  });
  const mean = centred ? e.reduce((a, b) => a + b, 0) / e.length : 0;
  return e.reduce((a, v) => a + (v - mean) ** 2, 0) / e.length;
}
