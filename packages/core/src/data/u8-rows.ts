// Images as packed uint8 rows on the GPU (see @mnv2/kernels image/u8-to-f32.ts for the format): one
// row = one resized image of rowLen = S*S*3 bytes, padded to whole u32 words. The input cache keeps
// rows (4x smaller than f32) in pages; a batch is made by copying rows into one staging tensor
// (copyBufferToBuffer: no binding limit) and converting it to f32 with `rowsU8ToF32`.
import { quantizeU8, u8ToF32 } from '@mnv2/kernels';
import { run } from '../ops/run.js';
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { ShapeError } from '../gpu/errors.js';
import { bindingLimitOf } from './paged-rows.js';
import { PREPROCESS, type PreprocessMode } from '../ops/image/resize.js';

/** u32 words of one packed row of `rowLen` bytes. */
export const wordsPerRow = (rowLen: number): number => Math.ceil(rowLen / 4);

const checkRowLen = (op: string, rowLen: number) => {
  if (!Number.isInteger(rowLen) || rowLen <= 0) throw new ShapeError(op, 'rowLen must be a positive integer', { rowLen });
};

/**
 * Quantizes `rows` f32 rows of raw 0..255 values (from `src`, starting at row `srcRow`) into packed
 * uint8 rows of `dst` (a 'u32' tensor) starting at row `dstRow`. Round half to even, clamped.
 */
export function quantizeRowsU8(e: Engine, src: Tensor, dst: Tensor, o: { rows: number; rowLen: number; srcRow?: number; dstRow?: number }): void {
  const op = 'quantizeRowsU8';
  checkRowLen(op, o.rowLen);
  const wpr = wordsPerRow(o.rowLen);
  const srcRow = o.srcRow ?? 0;
  const dstRow = o.dstRow ?? 0;
  if (src.dtype !== 'f32' || dst.dtype !== 'u32') throw new ShapeError(op, 'src must be f32 and dst u32 (packed bytes)', { src: src.dtype, dst: dst.dtype });
  if ((srcRow + o.rows) * o.rowLen > src.size) throw new ShapeError(op, 'src holds fewer rows than asked', { src: src.shape, rows: o.rows, srcRow, rowLen: o.rowLen });
  if ((dstRow + o.rows) * wpr > dst.size) throw new ShapeError(op, 'dst holds fewer rows than asked', { dst: dst.shape, rows: o.rows, dstRow, rowLen: o.rowLen });
  const words = o.rows * wpr;
  run(e, quantizeU8, {}, { words, rowLen: o.rowLen, wordsPerRow: wpr, srcBase: srcRow * o.rowLen, dstWord0: dstRow * wpr }, { src, dst });
}

/**
 * Packed uint8 rows → f32 [rows * rowLen] values with the model's input scaling (default 'tf':
 * v / 127.5 − 1). Writes into `out` at row `outRow` when given, else allocates [rows, rowLen].
 */
export function rowsU8ToF32(e: Engine, src: Tensor, o: { rows: number; rowLen: number; srcRow?: number; preprocess?: PreprocessMode; out?: Tensor; outRow?: number }): Tensor {
  const op = 'rowsU8ToF32';
  checkRowLen(op, o.rowLen);
  const wpr = wordsPerRow(o.rowLen);
  const srcRow = o.srcRow ?? 0;
  const outRow = o.outRow ?? 0;
  if (src.dtype !== 'u32') throw new ShapeError(op, 'src must be packed bytes (u32)', { src: src.dtype });
  if ((srcRow + o.rows) * wpr > src.size) throw new ShapeError(op, 'src holds fewer rows than asked', { src: src.shape, rows: o.rows, srcRow, rowLen: o.rowLen });
  const out = o.out ?? e.alloc([o.rows, o.rowLen]);
  if (out.dtype !== 'f32' || (outRow + o.rows) * o.rowLen > out.size) throw new ShapeError(op, 'out must be f32 with room for the rows', { out: out.shape, rows: o.rows, outRow, rowLen: o.rowLen });
  const pre = PREPROCESS[o.preprocess ?? 'tf'];
  if (!pre) throw new Error(`${op}: unknown preprocess mode '${String(o.preprocess)}'`);
  const v4 = (a: number[], pad: number) => [a[0], a[1], a[2], pad] as const;
  const words = o.rows * wpr;
  run(
    e,
    u8ToF32,
    {},
    { words, rowLen: o.rowLen, wordsPerRow: wpr, srcWord0: srcRow * wpr, dstBase: outRow * o.rowLen, div1: v4(pre.div1, 1), sub: v4(pre.sub, 0), div2: v4(pre.div2, 1) },
    { src, dst: out },
  );
  return out;
}

/**
 * Uploads the bytes of one decoded image as the packed 'u32' source of `resizeImages`, in a buffer
 * of a power-of-two size class (at least 64 KiB, at most the binding limit): the buffer pool keeps
 * freed buffers by size, so a stream of images of many different sizes (a real folder) reuses a few
 * buffers instead of leaving one per distinct size behind. The caller owns (disposes) the tensor.
 */
export function uploadImageSized(e: Engine, rgb: Uint8Array): Tensor {
  const words = Math.ceil(rgb.length / 4);
  const cap = Math.max(words, Math.min(Math.max(1 << 14, 2 ** Math.ceil(Math.log2(Math.max(1, words)))), Math.floor(bindingLimitOf(e) / 4)));
  const packed = new Uint32Array(cap);
  new Uint8Array(packed.buffer).set(rgb);
  return e.upload(packed, [cap], 'u32');
}
