// Bilinear resize of a batch of equal-size NHWC images to [N, outH, outW, 3] f32, matching
// tf.image.resize(method='bilinear', antialias=False) (= ResizeBilinear with half_pixel_centers):
// in = (out + 0.5) * (inSize / outSize) - 0.5, lower = max(floor(in), 0), upper = min(ceil(in), inSize - 1),
// lerp = in - floor(in), top = tl + (tr - tl) * xl, bottom = bl + (br - bl) * xl, v = top + (bottom - top) * yl.
// An optional crop box (in source pixels) is resized as if it were the whole image (crop, then resize).
// Per-channel preprocessing is fused into the store: y = (v / div1 - sub) / div2 (Keras 'tf' mode
// div1 = 127.5, sub = 1, div2 = 1; 'torch' mode div1 = 255, sub = mean, div2 = std).
//
// Source formats: `packed` = raw uint8 bytes of the NHWC batch (e.g. sharp's RGB/RGBA output) packed
// little-endian 4 per u32 word (byte k at word k >> 2, bits 8 * (k & 3)); otherwise f32 NHWC. Source
// channels 3 (RGB) or 4 (RGBA, alpha ignored). One invocation per output pixel writes its 3 channels;
// `outBase` (in pixels) lets per-image calls fill one image of a larger batch tensor.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl } from '../wgsl.js';
import { IMAGE_WG, perItemDispatch } from './common.js';
import type { UniformValues } from '../uniforms.js';

export interface ResizeConfig {
  /** Source is uint8 bytes packed 4 per u32 (else f32). */
  packed: boolean;
  /** Source channels: 3 (RGB) or 4 (RGBA; alpha ignored). */
  channels: 3 | 4;
}

function texel(cfg: ResizeConfig): string {
  if (cfg.packed && cfg.channels === 4) {
    return `let w = src[pix];
  return vec3<f32>(f32(w & 255u), f32((w >> 8u) & 255u), f32((w >> 16u) & 255u));`;
  }
  if (cfg.packed) {
    return `let o = pix * 3u;
  return vec3<f32>(byteAt(o), byteAt(o + 1u), byteAt(o + 2u));`;
  }
  return `let o = pix * ${cfg.channels}u;
  return vec3<f32>(src[o], src[o + 1u], src[o + 2u]);`;
}

const BYTE_AT = `
fn byteAt(k: u32) -> f32 {
  return f32((src[k >> 2u] >> ((k & 3u) * 8u)) & 255u);
}`;

const RESIZE_UNIFORMS = {
  n: 'u32', // output pixels of this call: N * outH * outW
  inH: 'u32',
  inW: 'u32',
  cropTop: 'u32',
  cropLeft: 'u32',
  cropH: 'u32',
  cropW: 'u32',
  outH: 'u32',
  outW: 'u32',
  outBase: 'u32', // first output pixel in dst
  srcImage: 'u32', // first source image of this call (pages of a batch)
  scaleY: 'f32', // cropH / outH (f32, as TF)
  scaleX: 'f32',
  div1: 'vec4f',
  sub: 'vec4f',
  div2: 'vec4f',
} as const;

export const resizeBilinear = defineKernel({
  name: 'resize',
  uniforms: RESIZE_UNIFORMS,
  dispatch: (_cfg: ResizeConfig, u: UniformValues<typeof RESIZE_UNIFORMS>) => perItemDispatch(u, 'n'),
  bindings: {
    src: { access: 'read', type: (cfg: ResizeConfig) => (cfg.packed ? 'u32' : 'f32') },
    dst: 'read_write',
  },
  workgroupSize: () => [IMAGE_WG, 1, 1],
  body: (cfg: ResizeConfig) => wgsl`
${cfg.packed ? BYTE_AT : ''}
fn texel(b: u32, y: u32, x: u32) -> vec3<f32> {
  let pix = ((u.srcImage + b) * u.inH + y) * u.inW + x;
  ${texel(cfg)}
}
struct Axis { lo: u32, hi: u32, lerp: f32 }
fn axis(o: u32, scale: f32, len: u32) -> Axis {
  let c = (f32(o) + 0.5) * scale - 0.5;
  let cf = floor(c);
  let lo = u32(max(cf, 0.0));
  let hi = u32(clamp(ceil(c), 0.0, f32(len - 1u)));
  return Axis(min(lo, len - 1u), hi, c - cf);
}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let idx = ${flatIndex(IMAGE_WG)};
  if (idx >= u.n) { return; }
  let ox = idx % u.outW;
  let r = idx / u.outW;
  let oy = r % u.outH;
  let b = r / u.outH;
  let ay = axis(oy, u.scaleY, u.cropH);
  let ax = axis(ox, u.scaleX, u.cropW);
  let y0 = u.cropTop + ay.lo;
  let y1 = u.cropTop + ay.hi;
  let x0 = u.cropLeft + ax.lo;
  let x1 = u.cropLeft + ax.hi;
  let tl = texel(b, y0, x0);
  let tr = texel(b, y0, x1);
  let bl = texel(b, y1, x0);
  let br = texel(b, y1, x1);
  let top = tl + (tr - tl) * ax.lerp;
  let bottom = bl + (br - bl) * ax.lerp;
  let v = top + (bottom - top) * ay.lerp;
  let y = (v / u.div1.xyz - u.sub.xyz) / u.div2.xyz;
  let o = (u.outBase + idx) * 3u;
  dst[o] = y.x;
  dst[o + 1u] = y.y;
  dst[o + 2u] = y.z;
}`,
  key: (cfg: ResizeConfig) => `${cfg.packed ? 'u8' : 'f32'}x${cfg.channels}`,
});
