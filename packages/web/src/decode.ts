// Image decoding in the worker: encoded files through createImageBitmap (no colour-space conversion,
// no premultiplication, EXIF orientation applied), pixels through an OffscreenCanvas, RGBA → RGB.
import type { RgbPixels, WorkerImage } from './protocol.js';

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

function bitmapToRgb(bmp: ImageBitmap): RgbPixels {
  const { width, height } = bmp;
  if (width === 0 || height === 0) throw new ImageDecodeError('the image is empty (0 pixels)');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ImageDecodeError('OffscreenCanvas 2D context unavailable');
  ctx.drawImage(bmp, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { width, height, rgb };
}

export async function decodeToRgb(img: WorkerImage, name = 'image'): Promise<RgbPixels> {
  if (typeof ImageBitmap !== 'undefined' && img instanceof ImageBitmap) {
    try {
      return bitmapToRgb(img);
    } finally {
      img.close();
    }
  }
  if (img instanceof Blob) {
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(img, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
    } catch (e) {
      const type = img.type ? ` (${img.type})` : '';
      throw new ImageDecodeError(`cannot decode ${name}${type}: not an image this browser can read (${e instanceof Error ? e.message : String(e)})`);
    }
    try {
      return bitmapToRgb(bmp);
    } finally {
      bmp.close();
    }
  }
  const p = img as RgbPixels;
  if (!(p.rgb instanceof Uint8Array) || p.rgb.length !== p.width * p.height * 3) throw new ImageDecodeError(`${name}: RGB pixels must be width*height*3 bytes`);
  return p;
}
