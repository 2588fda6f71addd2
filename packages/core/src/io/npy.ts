// NumPy .npy files (format versions 1, 2 and 3): magic `\x93NUMPY`, major/minor version, header
// length (u16 for v1, u32 for v2/v3), a Python dict literal {'descr', 'fortran_order', 'shape'}
// padded with spaces to a multiple of 64 (16 in old files) and ending in '\n', then raw data.
// Floats ('<f4', '<f8', '<f2') come back as Float32Array in C order.

export interface NpyArray {
  shape: number[];
  /** The file's dtype descr, e.g. '<f4'. */
  dtype: string;
  data: Float32Array;
}

export class NpyError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'NpyError';
  }
}

import { decodeLatin1, decodeUtf8 } from './utf8.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export const asBytes = (b: ArrayBuffer | ArrayBufferView): Uint8Array =>
  b instanceof Uint8Array ? b : ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);

export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Parses a .npy file. `file` names it in errors. */
export function parseNpy(buffer: ArrayBuffer | ArrayBufferView, file = '<npy>'): NpyArray {
  const bytes = asBytes(buffer);
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new NpyError(file, 'not a .npy file (bad magic)');
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(file, 'truncated header');
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else throw new NpyError(file, `unsupported .npy format version ${major}.${bytes[7]}`);
  if (start + headerLen > bytes.length) throw new NpyError(file, `truncated header (needs ${start + headerLen} bytes, file has ${bytes.length})`);
  const headerBytes = bytes.subarray(start, start + headerLen);
  const header = major === 3 ? decodeUtf8(headerBytes) : decodeLatin1(headerBytes);

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new NpyError(file, `malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new NpyError(file, 'fortran_order=True arrays are not supported (save it in C order: np.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const d = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(d) || d < 0) throw new NpyError(file, `bad shape (${shapeText})`);
      return d;
    });

  const kinds: Record<string, number> = { f2: 2, f4: 4, f8: 8 };
  const order = descr[0];
  const kind = descr.slice(1);
  const size = kinds[kind];
  const bigEndian = order === '>';
  if (size === undefined || !(order === '<' || order === '|' || order === '=' || order === '>')) {
    throw new NpyError(file, `dtype '${descr}' is not supported (float16/float32/float64 only)`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  const need = n * size;
  if (bytes.length - off < need) {
    throw new NpyError(file, `truncated data: shape (${shape.join(', ')}) of '${descr}' needs ${need} bytes, file has ${bytes.length - off}`);
  }
  return { shape, dtype: descr, data: decodeFloats(bytes, off, n, size, !bigEndian) };
}

/** Reads n little/big-endian floats of `size` bytes (2, 4 or 8) at `off` into a new Float32Array. */
export function decodeFloats(bytes: Uint8Array, off: number, n: number, size: number, littleEndian = true): Float32Array {
  if (size === 4 && littleEndian && hostIsLittleEndian) {
    // Copy byte-wise (the offset need not be 4-aligned; `bytes` may be a Node Buffer, whose slice() is a view).
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes.subarray(off, off + n * 4));
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, n * size);
  const out = new Float32Array(n);
  if (size === 8) for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, littleEndian);
  else if (size === 4) for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, littleEndian);
  else for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, littleEndian));
  return out;
}

/** IEEE binary16 bits → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Writes a float32 C-order .npy (format 1.0, header padded to 64 bytes). */
export function serializeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`serializeNpy: shape [${shape.join(',')}] holds ${n} values, data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  if (header.length > 0xffff) throw new Error('serializeNpy: header too long');
  const out = new Uint8Array(10 + header.length + n * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const dv = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < n; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
}
