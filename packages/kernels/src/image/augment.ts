// Fused random horizontal flip + rotation of f32 NHWC images (Keras RandomFlip('horizontal') followed
// by RandomRotation(factor, fill_mode='reflect', interpolation='bilinear')), one bilinear sample per
// output pixel and channel.
// Rotation (keras/src/layers/preprocessing/image_preprocessing/random_rotation.py, factor·2π form):
// the output pixel (x, y) samples the (flipped) input at
//   x' = cos·x − sin·y + ((W−1) − (cos·(W−1) − sin·(H−1)))/2,  y' = sin·x + cos·y + ((H−1) − (sin·(W−1) + cos·(H−1)))/2
// (a rotation about the pixel-grid centre), then TF ImageProjectiveTransformV3 semantics: REFLECT
// maps x', y' into [0, len−1], bilinear with floor/ceil taps. A flip mirrors the mapped column
// (x'' = W−1−x'), i.e. the rotation samples the flipped image, as Keras' flip-then-rotate does.
// Per-image draws: 'hash' mode derives them from (seed, index0 + image) with the counter-based hash in
// common.ts — flip when rand01(·,·,0) <= 0.5 (Keras: uniform <= 0.5), angle = lo + (hi − lo)·rand01(·,·,1);
// 'explicit' mode reads [angle (radians), flip (0/1)] per image from `params`.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl } from '../wgsl.js';
import { IMAGE_WG, HASH_WGSL, SINCOS_WGSL, REFLECT_WGSL, imageRand01, perItemDispatch } from './common.js';

export interface AugmentConfig {
  /** 'hash': draws from the seed; 'explicit': per-image [angle, flip] from `params`. */
  mode: 'hash' | 'explicit';
  flip: boolean;
  rotate: boolean;
}

/** Hash streams of the per-image draws (shared with the host mirror below). */
export const AUGMENT_STREAM = { flip: 0, angle: 1 } as const;

export const augmentImages = defineKernel({
  name: 'augment',
  uniforms: { n: 'u32', H: 'u32', W: 'u32', C: 'u32', seed: 'u32', index0: 'u32', angleLo: 'f32', angleHi: 'f32' },
  // params: explicit mode [N, 2] f32 (angle radians, flip 0/1); unused (bind anything) in hash mode.
  bindings: { x: 'read', y: 'read_write', params: 'read' },
  workgroupSize: () => [IMAGE_WG, 1, 1],
  /** One invocation per output pixel of a [N, H, W, C] batch; the draws are per image (index0 = first image's index). */
  dispatch: (_cfg: AugmentConfig, s: { N: number; H: number; W: number; C: number; seed: number; index0: number; angleLo: number; angleHi: number }) => {
    const { N, ...rest } = s;
    return perItemDispatch({ n: N * s.H * s.W, ...rest }, 'n');
  },
  body: (cfg: AugmentConfig) => wgsl`
${HASH_WGSL}
${SINCOS_WGSL}
${REFLECT_WGSL}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let idx = ${flatIndex(IMAGE_WG)};
  if (idx >= u.n) { return; }
  let hw = u.H * u.W;
  let b = idx / hw;
  let rem = idx - b * hw;
  let oy = rem / u.W;
  let ox = rem - oy * u.W;
  let fw = f32(u.W - 1u);
  let fh = f32(u.H - 1u);
  ${
    cfg.mode === 'explicit'
      ? `let angle = params[2u * b];
  let flip = params[2u * b + 1u] != 0.0;`
      : `let img = u.index0 + b;
  let flip = ${cfg.flip ? `rand01(u.seed, img, ${AUGMENT_STREAM.flip}u) <= 0.5` : 'false'};
  let angle = ${cfg.rotate ? `u.angleLo + (u.angleHi - u.angleLo) * rand01(u.seed, img, ${AUGMENT_STREAM.angle}u)` : '0.0'};`
  }
  var xs = f32(ox);
  var ys = f32(oy);
  ${
    cfg.rotate
      ? `let sc = sincos(angle);
  let sn = sc.x;
  let cs = sc.y;
  let xoff = (fw - (cs * fw - sn * fh)) / 2.0;
  let yoff = (fh - (sn * fw + cs * fh)) / 2.0;
  xs = reflectCoord(cs * f32(ox) - sn * f32(oy) + xoff, u.W);
  ys = reflectCoord(sn * f32(ox) + cs * f32(oy) + yoff, u.H);`
      : ''
  }
  if (flip) { xs = fw - xs; }
  let xf = floor(xs);
  let yf = floor(ys);
  let x0 = u32(xf);
  let y0 = u32(yf);
  let x1 = min(x0 + 1u, u.W - 1u);
  let y1 = min(y0 + 1u, u.H - 1u);
  let wx1 = xs - xf;
  let wx0 = (xf + 1.0) - xs;
  let wy1 = ys - yf;
  let wy0 = (yf + 1.0) - ys;
  let base = b * hw;
  let r00 = ((base + y0 * u.W + x0) * u.C);
  let r01 = ((base + y0 * u.W + x1) * u.C);
  let r10 = ((base + y1 * u.W + x0) * u.C);
  let r11 = ((base + y1 * u.W + x1) * u.C);
  let o = idx * u.C;
  for (var c = 0u; c < u.C; c++) {
    let top = wx0 * x[r00 + c] + wx1 * x[r01 + c];
    let bot = wx0 * x[r10 + c] + wx1 * x[r11 + c];
    y[o + c] = wy0 * top + wy1 * bot;
  }
}`,
  key: (cfg: AugmentConfig) => `${cfg.mode}${cfg.flip ? '+flip' : ''}${cfg.rotate ? '+rot' : ''}`,
});

/** Host mirror of the kernel's hash-mode draws for images index0 .. index0 + n − 1 (angles in radians, f32-rounded). */
export function augmentDraws(
  seed: number,
  n: number,
  opts: { flip: boolean; angleLo: number; angleHi: number; rotate: boolean; index0?: number },
): { angles: Float32Array; flips: boolean[] } {
  const f = Math.fround;
  const lo = f(opts.angleLo);
  const hi = f(opts.angleHi);
  const angles = new Float32Array(n);
  const flips: boolean[] = [];
  for (let b = 0; b < n; b++) {
    const img = ((opts.index0 ?? 0) + b) >>> 0;
    flips.push(opts.flip && imageRand01(seed, img, AUGMENT_STREAM.flip) <= 0.5);
    angles[b] = opts.rotate ? f(lo + f(f(hi - lo) * imageRand01(seed, img, AUGMENT_STREAM.angle))) : 0;
  }
  return { angles, flips };
}
