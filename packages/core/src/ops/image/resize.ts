// Image resize + preprocessing on the GPU: a batch of equal-size NHWC images (packed uint8 bytes or
// f32) → [N, outH, outW, 3] f32, bilinear as tf.image.resize(..., 'bilinear', antialias=False), with
// an optional crop (explicit box or Keras' crop_to_aspect_ratio) and the model's input scaling fused.
//
// Packed source format: the raw bytes of an [N, H, W, C] uint8 batch (C = 3 RGB as sharp's
// `.raw()` gives, or 4 RGBA), row-major NHWC, packed little-endian 4 bytes per u32 word (byte k in
// word k >> 2 at bits 8·(k & 3); the last word zero-padded). It is a 'u32' tensor of shape
// [ceil(N·H·W·C / 4)] (see `uploadImagesU8`), and `srcShape` gives [N, H, W, C]. This uploads 1/4 of
// the bytes of an f32 batch. Images of different sizes: one call per image with `out`/`outIndex`
// filling one batch tensor.
import { resizeBilinear } from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import { pageOf, planPages } from '../paging.js';
import { run as runKernel } from '../run.js';

/** Input scaling: 'tf' = x / 127.5 − 1 (Keras mobilenet_v2.preprocess_input), 'torch' = (x / 255 − mean) / std, 'none' = raw 0..255. */
export type PreprocessMode = 'tf' | 'torch' | 'none';

/** y = (x / div1 − sub) / div2 per RGB channel (the exact operation order of Keras/torchvision). */
export const PREPROCESS: Record<PreprocessMode, { div1: number[]; sub: number[]; div2: number[] }> = {
  tf: { div1: [127.5, 127.5, 127.5], sub: [1, 1, 1], div2: [1, 1, 1] },
  torch: { div1: [255, 255, 255], sub: [0.485, 0.456, 0.406], div2: [0.229, 0.224, 0.225] },
  none: { div1: [1, 1, 1], sub: [0, 0, 0], div2: [1, 1, 1] },
};

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export interface ResizeOptions {
  /** Output size. */
  height: number;
  width: number;
  /** [N, H, W, C] of a packed uint8 source (required for 'u32' tensors; optional check for f32). */
  srcShape?: readonly [number, number, number, number];
  /** Crop (source pixels) resized as the whole image, or 'aspect' = Keras `crop_to_aspect_ratio=True`. */
  crop?: CropBox | 'aspect';
  /** Input scaling fused into the output, default 'tf' ([-1, 1], MobileNetV2). */
  preprocess?: PreprocessMode;
  /** Write into images outIndex .. outIndex + N − 1 of this [M, height, width, 3] f32 tensor instead of allocating. */
  out?: Tensor;
  outIndex?: number;
}

/**
 * Keras' centred crop for `crop_to_aspect_ratio` (keras/src/backend/*\/image.py `resize`): the largest
 * window with the target aspect ratio, centred (start = int((size − crop) / 2)).
 */
export function aspectCropBox(h: number, w: number, outH: number, outW: number): CropBox {
  const f = Math.fround;
  const cropH = Math.max(Math.min(h, Math.trunc(f(f(w * outH) / outW))), 1);
  const cropW = Math.max(Math.min(w, Math.trunc(f(f(h * outW) / outH))), 1);
  return { top: Math.trunc((h - cropH) / 2), left: Math.trunc((w - cropW) / 2), height: cropH, width: cropW };
}

/** Packs uint8 bytes 4 per u32 word, little-endian (the last word zero-padded). */
export function packImagesU8(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes); // typed arrays are little-endian on every supported platform
  return words;
}

/** Uploads an [N, H, W, C] uint8 batch as the packed 'u32' source of `resizeImages` (caller owns it). */
export function uploadImagesU8(e: Engine, bytes: Uint8Array, shape: readonly [number, number, number, number]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== n) throw new ShapeError('uploadImagesU8', `got ${bytes.length} bytes for the image batch`, { shape });
  const words = packImagesU8(bytes);
  return e.upload(words, [words.length], 'u32');
}

const isPosInt = (v: number) => Number.isInteger(v) && v > 0;

export function resizeImages(e: Engine, src: Tensor, opts: ResizeOptions): Tensor {
  const op = 'resizeImages';
  const { height: outH, width: outW } = opts;
  if (!isPosInt(outH) || !isPosInt(outW)) throw new ShapeError(op, 'output height and width must be positive integers', { height: outH, width: outW });
  const packed = src.dtype === 'u32';
  let shape: readonly number[];
  if (packed) {
    if (!opts.srcShape) throw new ShapeError(op, "a packed uint8 ('u32') source needs srcShape [N,H,W,C]", { src: src.shape });
    shape = opts.srcShape;
    const words = Math.ceil(shape.reduce((a, b) => a * b, 1) / 4);
    if (src.size < words) throw new ShapeError(op, `packed source holds ${src.size} words, srcShape needs ${words}`, { src: src.shape, srcShape: shape });
  } else {
    if (src.dtype !== 'f32') throw new ShapeError(op, 'source must be f32 NHWC or packed uint8 (u32)', { dtype: src.dtype });
    shape = src.shape;
    if (opts.srcShape && opts.srcShape.join() !== shape.join()) throw new ShapeError(op, 'srcShape does not match the f32 source', { src: shape, srcShape: opts.srcShape });
  }
  if (shape.length !== 4 || !shape.every(isPosInt)) throw new ShapeError(op, 'source must be [N,H,W,C] with positive dims', { src: shape });
  const [N, H, W, C] = shape;
  if (C !== 3 && C !== 4) throw new ShapeError(op, 'source must have 3 (RGB) or 4 (RGBA) channels', { src: shape });

  const box = opts.crop === 'aspect' ? aspectCropBox(H, W, outH, outW) : (opts.crop ?? { top: 0, left: 0, height: H, width: W });
  const { top, left, height: cropH, width: cropW } = box;
  if (![top, left].every((v) => Number.isInteger(v) && v >= 0) || !isPosInt(cropH) || !isPosInt(cropW) || top + cropH > H || left + cropW > W) {
    throw new ShapeError(op, 'crop box must be integer and inside the source image', { crop: `${top},${left},${cropH}x${cropW}`, src: shape });
  }

  let out = opts.out;
  const outIndex = opts.outIndex ?? 0;
  if (out) {
    const s = out.shape;
    if (out.dtype !== 'f32' || s.length !== 4 || s[1] !== outH || s[2] !== outW || s[3] !== 3 || !Number.isInteger(outIndex) || outIndex < 0 || outIndex + N > s[0]) {
      throw new ShapeError(op, `out must be f32 [M,${outH},${outW},3] with outIndex + N <= M`, { out: s, outIndex, N });
    }
  } else {
    if (outIndex !== 0) throw new ShapeError(op, 'outIndex needs out', { outIndex });
    out = e.alloc([N, outH, outW, 3]);
  }

  const pre = PREPROCESS[opts.preprocess ?? 'tf'];
  if (!pre) throw new Error(`${op}: unknown preprocess mode '${String(opts.preprocess)}'`);
  const v4 = (a: number[], pad: number) => [a[0], a[1], a[2], pad] as const;
  const base = { inH: H, inW: W, cropTop: top, cropLeft: left, cropH, cropW, outH, outW, scaleY: cropH / outH, scaleX: cropW / outW, div1: v4(pre.div1, 1), sub: v4(pre.sub, 0), div2: v4(pre.div2, 1) };
  const cfg = { packed, channels: C as 3 | 4 };
  const outPix = outH * outW;
  const dst = out;
  const run = (s: Tensor, srcImage: number, count: number, d: Tensor, outBase: number) =>
    runKernel(e, resizeBilinear, cfg, { n: count * outPix, outBase, srcImage, ...base }, { src: s, dst: d });
  if (src.bytes <= e.bindingLimit && dst.bytes <= e.bindingLimit) {
    run(src, 0, N, dst, outIndex * outPix);
    return dst;
  }
  // Pages of images: the source bound whole (packed) or by pages (f32); the output by pages.
  if (packed && src.bytes > e.bindingLimit) {
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    throw new ShapeError(
      op,
      N === 1
        ? `a ${W}x${H} image is ${mb(src.bytes)} of pixels, more than this adapter binds per buffer (${mb(e.bindingLimit)}): downscale it first`
        : `the packed source of ${N} images is ${mb(src.bytes)}, more than this adapter binds per buffer (${mb(e.bindingLimit)}): resize fewer images per call`,
      { srcShape: shape },
    );
  }
  for (const pg of planPages(e, op, N, [packed ? 0 : e.sampleBytes(src), outPix * 12])) {
    e.tidy(() => {
      const s = packed ? src : pageOf(e, src, pg);
      const d = pageOf(e, dst, { start: outIndex + pg.start, count: pg.count });
      run(s, packed ? pg.start : 0, pg.count, d, 0);
      if (d.buffer !== dst.buffer) e.copy(d, dst, d.bytes, 0, (outIndex + pg.start) * outPix * 12);
    });
  }
  return dst;
}
