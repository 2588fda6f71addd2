// f64 references of the image ops.
// resizeRef: TensorFlow ResizeBilinear with half_pixel_centers=True (what tf.image.resize(..., 'bilinear',
//   antialias=False) runs): in = (o + 0.5) * (inSize / outSize) − 0.5; lower = max(floor(in), 0);
//   upper = min(ceil(in), inSize − 1); lerp = in − floor(in); then the per-channel scaling y = (v / div1 − sub) / div2.
// transformRef: Keras RandomFlip('horizontal') then RandomRotation (its rotation matrix) applied with
//   TensorFlow ImageProjectiveTransformV3 semantics (fill_mode REFLECT, BILINEAR, fill_value 0).

export interface Box { top: number; left: number; height: number; width: number }
export interface Scaling { div1: number[]; sub: number[]; div2: number[] }

/** src: NHWC (C >= 3; channels beyond 3 ignored) → [N, outH, outW, 3]. */
export function resizeRef(
  src: ArrayLike<number>,
  [N, H, W, C]: readonly number[],
  outH: number,
  outW: number,
  box: Box = { top: 0, left: 0, height: H, width: W },
  s: Scaling = { div1: [1, 1, 1], sub: [0, 0, 0], div2: [1, 1, 1] },
): Float64Array {
  const weights = (o: number, inSize: number, outSize: number) => {
    const x = (o + 0.5) * (inSize / outSize) - 0.5;
    const xf = Math.floor(x);
    return { lo: Math.max(xf, 0), hi: Math.min(Math.ceil(x), inSize - 1), lerp: x - xf };
  };
  const out = new Float64Array(N * outH * outW * 3);
  const at = (b: number, y: number, x: number, c: number) => src[((b * H + box.top + y) * W + box.left + x) * C + c];
  for (let b = 0; b < N; b++)
    for (let oy = 0; oy < outH; oy++) {
      const wy = weights(oy, box.height, outH);
      for (let ox = 0; ox < outW; ox++) {
        const wx = weights(ox, box.width, outW);
        for (let c = 0; c < 3; c++) {
          const tl = at(b, wy.lo, wx.lo, c), tr = at(b, wy.lo, wx.hi, c);
          const bl = at(b, wy.hi, wx.lo, c), br = at(b, wy.hi, wx.hi, c);
          const top = tl + (tr - tl) * wx.lerp;
          const bottom = bl + (br - bl) * wx.lerp;
          const v = top + (bottom - top) * wy.lerp;
          out[((b * outH + oy) * outW + ox) * 3 + c] = (v / s.div1[c] - s.sub[c]) / s.div2[c];
        }
      }
    }
  return out;
}

/** TF MapCoordinate<FILL_REFLECT> (tensorflow/core/kernels/image/image_ops.h), in f64. */
export function reflectRef(c: number, len: number): number {
  let x = c;
  if (x < 0) {
    if (len <= 1) x = 0;
    else {
      const sz2 = 2 * len;
      if (x < sz2) x = sz2 * Math.trunc(-x / sz2) + x;
      x = x < -len ? x + sz2 : -x - 1;
    }
  } else if (x > len - 1) {
    if (len <= 1) x = 0;
    else {
      const sz2 = 2 * len;
      x -= sz2 * Math.trunc(x / sz2);
      if (x >= len) x = sz2 - x - 1;
    }
  }
  return Math.min(Math.max(x, 0), len - 1);
}

/** Keras RandomRotation's transform row [a0, a1, a2, b0, b1, b2] for an angle (radians). */
export function rotationMatrixRef(angle: number, H: number, W: number): number[] {
  const c = Math.cos(angle), s = Math.sin(angle);
  const xOff = (W - 1 - (c * (W - 1) - s * (H - 1))) / 2;
  const yOff = (H - 1 - (s * (W - 1) + c * (H - 1))) / 2;
  return [c, -s, xOff, s, c, yOff];
}

/** Per image: optional horizontal flip, then the rotation by angles[b] (REFLECT fill, bilinear). */
export function transformRef(x: ArrayLike<number>, [N, H, W, C]: readonly number[], angles: ArrayLike<number>, flips: ArrayLike<boolean>): Float64Array {
  const out = new Float64Array(N * H * W * C);
  for (let b = 0; b < N; b++) {
    // The flipped image (RandomFlip runs first).
    const img = (y: number, xx: number, c: number) => x[((b * H + y) * W + (flips[b] ? W - 1 - xx : xx)) * C + c];
    const read = (y: number, xx: number, c: number) => (y >= 0 && y < H && xx >= 0 && xx < W ? img(y, xx, c) : 0);
    const [a0, a1, a2, b0, b1, b2] = rotationMatrixRef(angles[b], H, W);
    for (let oy = 0; oy < H; oy++)
      for (let ox = 0; ox < W; ox++) {
        const xs = reflectRef(a0 * ox + a1 * oy + a2, W);
        const ys = reflectRef(b0 * ox + b1 * oy + b2, H);
        const xf = Math.floor(xs), yf = Math.floor(ys);
        for (let c = 0; c < C; c++) {
          const vy0 = (xf + 1 - xs) * read(yf, xf, c) + (xs - xf) * read(yf, xf + 1, c);
          const vy1 = (xf + 1 - xs) * read(yf + 1, xf, c) + (xs - xf) * read(yf + 1, xf + 1, c);
          out[((b * H + oy) * W + ox) * C + c] = (yf + 1 - ys) * vy0 + (ys - yf) * vy1;
        }
      }
  }
  return out;
}
