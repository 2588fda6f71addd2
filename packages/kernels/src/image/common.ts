// Shared WGSL + host helpers of the image kernels: a counter-based hash (the same bits on the GPU
// and in JS, so a seeded augmentation is reproducible and its draws can be recomputed on the host),
// an adapter-independent sin/cos (WGSL only promises 2^-11 absolute error for the builtins), and
// TensorFlow's REFLECT coordinate mapping.

import type { UniformSchema, UniformValues } from '../uniforms.js';
import { ceilDiv, grid1d } from '../wgsl.js';

export const IMAGE_WG = 64;

/**
 * Dispatch of the image kernels: one invocation per item (output pixel, packed word); the op passes
 * the kernel's uniforms, `count` names the one that counts the items.
 */
export function perItemDispatch<U extends UniformSchema>(uniforms: UniformValues<U>, count: keyof U & string) {
  return { grid: grid1d(ceilDiv(uniforms[count] as number, IMAGE_WG)), uniforms };
}

/** WGSL: lowbias32 integer hash (Chris Wellons), `rand01(seed, index, stream)` in [0, 1) with 24 bits. */
export const HASH_WGSL = `
fn lowbias32(x: u32) -> u32 {
  var v = x;
  v ^= v >> 16u;
  v *= 0x7feb352du;
  v ^= v >> 15u;
  v *= 0x846ca68bu;
  v ^= v >> 16u;
  return v;
}
fn rand01(seed: u32, index: u32, stream: u32) -> f32 {
  let key = lowbias32(seed ^ lowbias32(stream + 0x9e3779b9u));
  let h = lowbias32(key ^ lowbias32(index));
  return f32(h >> 8u) * (1.0 / 16777216.0);
}
`;

/** Host mirror of WGSL `lowbias32`. */
export function imageHash32(x: number): number {
  let v = x >>> 0;
  v ^= v >>> 16;
  v = Math.imul(v, 0x7feb352d);
  v ^= v >>> 15;
  v = Math.imul(v, 0x846ca68b);
  v ^= v >>> 16;
  return v >>> 0;
}

/** Host mirror of WGSL `rand01(seed, index, stream)`: bit-identical (24-bit uniform in [0, 1)). */
export function imageRand01(seed: number, index: number, stream: number): number {
  const key = imageHash32((seed >>> 0) ^ imageHash32((stream + 0x9e3779b9) >>> 0));
  const h = imageHash32(key ^ imageHash32(index >>> 0));
  return (h >>> 8) / 16777216;
}

/**
 * WGSL `sincos(a) -> vec2(sin a, cos a)`: Cody-Waite reduction by pi/2 and Taylor polynomials on
 * [-pi/4, pi/4] (~1e-7 absolute for |a| up to a few hundred radians).
 */
export const SINCOS_WGSL = `
fn sincos(a: f32) -> vec2<f32> {
  let q = round(a * 0.636619772367581);
  var r = a - q * 1.5703125;
  r = r - q * 4.837512969970703125e-4;
  r = r - q * 7.54978995489188216e-8;
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666666666666667e-1 + r2 * (8.3333333333333333e-3 + r2 * (-1.9841269841269841e-4 + r2 * 2.7557319223985891e-6)));
  let c = 1.0 - 0.5 * r2 + r2 * r2 * (4.1666666666666667e-2 + r2 * (-1.3888888888888889e-3 + r2 * 2.4801587301587302e-5));
  switch (i32(q) & 3) {
    case 0: { return vec2<f32>(s, c); }
    case 1: { return vec2<f32>(c, -s); }
    case 2: { return vec2<f32>(-s, -c); }
    default: { return vec2<f32>(-c, s); }
  }
}
`;

/**
 * WGSL `reflectCoord(c, len)`: TensorFlow's ImageProjectiveTransformV3 fill_mode REFLECT
 * (tensorflow/core/kernels/image/image_ops.h, MapCoordinate<FILL_REFLECT>): (d c b a | a b c d | d c b a),
 * reflecting about the outer edge of the border pixels, then clamped to [0, len - 1].
 */
export const REFLECT_WGSL = `
fn reflectCoord(c: f32, len: u32) -> f32 {
  if (len <= 1u) { return 0.0; }
  let lenf = f32(len);
  let sz2 = 2.0 * lenf;
  var x = c;
  if (x < 0.0) {
    x = sz2 * trunc(-x / sz2) + x;
    x = select(-x - 1.0, x + sz2, x < -lenf);
  } else if (x > lenf - 1.0) {
    x = x - sz2 * trunc(x / sz2);
    if (x >= lenf) { x = sz2 - x - 1.0; }
  }
  return clamp(x, 0.0, lenf - 1.0);
}
`;
