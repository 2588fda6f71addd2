// Image decoding in Node with sharp: JPEG, PNG, BMP (sharp lacks BMP, so we parse it), GIF, WebP,
// TIFF → RGB uint8 at the original size. Resizing happens on the GPU (TF bilinear semantics).
// Only huge images (over MAX_DECODED_PIXELS, e.g. an 8000x8000 scan) are first shrunk on the host,
// on load where the format allows it, so one photo can never exceed a GPU binding or the memory
// of a batch; every ordinary photo keeps its exact pixels.
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

/** Largest decoded image kept at full size: 4096x4096 (48 MiB of RGB, well under a 128 MiB binding). */
export const MAX_DECODED_PIXELS = 4096 * 4096;
const MAX_SIDE = 4096;

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
    let bmp;
    try {
      bmp = decodeBmp(bytes);
    } catch (e) {
      throw new ImageDecodeError(path, (e as Error).message);
    }
    if (bmp.width * bmp.height <= MAX_DECODED_PIXELS) return { path, ...bmp };
    const { data, info } = await sharp(bmp.rgb, { raw: { width: bmp.width, height: bmp.height, channels: 3 } })
      .resize({ width: MAX_SIDE, height: MAX_SIDE, fit: 'inside' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { path, width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }
  try {
    let img = sharp(bytes, { failOn: 'error', limitInputPixels: false });
    const meta = await img.metadata();
    if ((meta.width ?? 0) * (meta.height ?? 0) > MAX_DECODED_PIXELS) {
      // shrink-on-load for JPEG/WebP; the EXIF rotation is applied first, as for every image
      img = img.rotate().resize({ width: MAX_SIDE, height: MAX_SIDE, fit: 'inside' });
    } else img = img.rotate();
    const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { path, width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    const msg = (e as Error).message.replace(/^Input buffer /, '');
    throw new ImageDecodeError(path, `${msg} (is it a JPEG/PNG/BMP/GIF/WebP image?)`);
  }
}
