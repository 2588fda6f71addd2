// Image decoding in Node with sharp: JPEG, PNG, BMP (sharp lacks BMP, so we parse it), GIF, WebP,
// TIFF → RGB uint8 at the original size. Resizing happens on the GPU (TF bilinear semantics).
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeBmp } from './bmp.js';

export interface DecodedImage {
  path: string;
  width: number;
  height: number;
  /** RGB, row-major, 3 bytes per pixel. */
  rgb: Uint8Array;
}

export class ImageDecodeError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot decode image '${path}': ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff'];

export async function decodeImage(path: string): Promise<DecodedImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(e));
  }
  if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) {
    try {
      return { path, ...decodeBmp(bytes) };
    } catch (e) {
      throw new ImageDecodeError(path, (e as Error).message);
    }
  }
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { path, width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    const msg = (e as Error).message.replace(/^Input buffer /, '');
    throw new ImageDecodeError(path, `${msg} (is it a JPEG/PNG/BMP/GIF/WebP image?)`);
  }
}
