// Minimal BMP reader (sharp/libvips cannot read BMP): uncompressed 24/32-bit and 8-bit paletted,
// bottom-up or top-down rows. Enough for the Coral test images and typical exports.
export function decodeBmp(b: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  if (b.length < 54) throw new Error('BMP file is truncated (no header)');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  if (width <= 0 || rawHeight === 0) throw new Error(`BMP has invalid size ${width}x${rawHeight}`);
  if (compression !== 0 && !(compression === 3 && bpp === 32)) throw new Error(`BMP compression ${compression} is not supported`);
  if (![8, 24, 32].includes(bpp)) throw new Error(`BMP with ${bpp} bits per pixel is not supported`);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > b.length) throw new Error('BMP pixel data is truncated');
  let palette: Uint8Array | null = null;
  if (bpp === 8) {
    const colors = dv.getUint32(46, true) || 256;
    palette = b.subarray(14 + headerSize, 14 + headerSize + colors * 4);
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const p = b[row + x] * 4;
        rgb[o] = palette[p + 2];
        rgb[o + 1] = palette[p + 1];
        rgb[o + 2] = palette[p];
      } else {
        const s = row + x * (bpp / 8);
        rgb[o] = b[s + 2];
        rgb[o + 1] = b[s + 1];
        rgb[o + 2] = b[s];
      }
    }
  }
  return { width, height, rgb };
}
