// Resized images kept as uint8 (4x smaller than f32), for the paged input cache and per-batch
// streaming (packages/core/src/data/u8-rows.ts). A "row" is one image of rowLen = S*S*3 bytes,
// stored packed little-endian 4 bytes per u32 word (byte k at word k >> 2, bits 8 * (k & 3)), each
// row padded to a whole number of words (wordsPerRow = ceil(rowLen / 4), padding bytes 0), so rows
// start on 4-byte boundaries and copyBufferToBuffer can move them one by one between pages.
//
//  - quantizeU8: f32 rows of raw 0..255 values (resizeImages with preprocess 'none') → packed bytes,
//    round half to even (WGSL round), clamped to [0, 255]. One invocation writes one word.
//  - u8ToF32: packed rows → f32 rows with the model's input scaling y = (v / div1 - sub) / div2 per
//    RGB channel (channel = byte index mod 3), the same operation order as resizeImages' fused
//    preprocess. One invocation reads one word and writes up to 4 floats.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl } from '../wgsl.js';
import { IMAGE_WG, perItemDispatch } from './common.js';
import type { UniformValues } from '../uniforms.js';

const QUANTIZE_UNIFORMS = {
  words: 'u32', // words to write: rows * wordsPerRow
  rowLen: 'u32', // bytes (values) per row
  wordsPerRow: 'u32',
  srcBase: 'u32', // first f32 value read
  dstWord0: 'u32', // first word written
} as const;

export const quantizeU8 = defineKernel({
  name: 'quantize-u8',
  uniforms: QUANTIZE_UNIFORMS,
  dispatch: (_cfg: Record<string, never>, u: UniformValues<typeof QUANTIZE_UNIFORMS>) => perItemDispatch(u, 'words'),
  bindings: {
    src: 'read',
    dst: { access: 'read_write', type: 'u32' },
  },
  workgroupSize: () => [IMAGE_WG, 1, 1],
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let idx = ${flatIndex(IMAGE_WG)};
  if (idx >= u.words) { return; }
  let r = idx / u.wordsPerRow;
  let k0 = (idx % u.wordsPerRow) * 4u;
  let base = u.srcBase + r * u.rowLen;
  var w = 0u;
  for (var j = 0u; j < 4u; j = j + 1u) {
    let k = k0 + j;
    if (k < u.rowLen) {
      let v = u32(clamp(round(src[base + k]), 0.0, 255.0));
      w = w | (v << (8u * j));
    }
  }
  dst[u.dstWord0 + idx] = w;
}`,
  key: () => '',
});

const U8_TO_F32_UNIFORMS = {
  words: 'u32', // words read: rows * wordsPerRow
  rowLen: 'u32',
  wordsPerRow: 'u32',
  srcWord0: 'u32', // first word read
  dstBase: 'u32', // first f32 value written
  div1: 'vec4f',
  sub: 'vec4f',
  div2: 'vec4f',
} as const;

export const u8ToF32 = defineKernel({
  name: 'u8-to-f32',
  uniforms: U8_TO_F32_UNIFORMS,
  dispatch: (_cfg: Record<string, never>, u: UniformValues<typeof U8_TO_F32_UNIFORMS>) => perItemDispatch(u, 'words'),
  bindings: {
    src: { access: 'read', type: 'u32' },
    dst: 'read_write',
  },
  workgroupSize: () => [IMAGE_WG, 1, 1],
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let idx = ${flatIndex(IMAGE_WG)};
  if (idx >= u.words) { return; }
  let r = idx / u.wordsPerRow;
  let k0 = (idx % u.wordsPerRow) * 4u;
  let w = src[u.srcWord0 + idx];
  let base = u.dstBase + r * u.rowLen;
  for (var j = 0u; j < 4u; j = j + 1u) {
    let k = k0 + j;
    if (k < u.rowLen) {
      let c = k % 3u;
      let v = f32((w >> (8u * j)) & 255u);
      dst[base + k] = (v / u.div1[c] - u.sub[c]) / u.div2[c];
    }
  }
}`,
  key: () => '',
});
