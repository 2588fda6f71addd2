// safetensors: u64 little-endian header length N, N bytes of JSON
//   {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// then the raw little-endian data; offsets are relative to the end of the header and must cover the
// data exactly (no holes, no overlaps). We read F32/F64/F16/BF16 (and integer dtypes, converted to
// f32) and write F32.
import { asBytes, decodeFloats, hostIsLittleEndian } from './npy.js';
import { decodeUtf8, encodeUtf8 } from './utf8.js';
import type { WeightMap } from './weight-map.js';

export class SafetensorsError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

const DTYPE_SIZE: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface SafetensorsFile {
  weights: WeightMap;
  /** The stored dtype of each tensor (data is always converted to f32). */
  dtypes: Map<string, string>;
  metadata: Record<string, string>;
}

/** Parses a .safetensors file; `file` names it in errors. */
export function parseSafetensors(buffer: ArrayBuffer | ArrayBufferView, file = '<safetensors>'): SafetensorsFile {
  const bytes = asBytes(buffer);
  if (bytes.length < 8) throw new SafetensorsError(file, `truncated: ${bytes.length} bytes, not even the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (n > bytes.length - 8) throw new SafetensorsError(file, `truncated or corrupt: header length ${n} but only ${bytes.length - 8} bytes follow`);
  let header: unknown;
  try {
    header = JSON.parse(decodeUtf8(bytes.subarray(8, 8 + n), true));
  } catch (e) {
    throw new SafetensorsError(file, `corrupt header (not UTF-8 JSON): ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError(file, 'corrupt header: not a JSON object');

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SafetensorsError(file, '__metadata__ must be an object of strings');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw new SafetensorsError(file, `__metadata__.${k} must be a string`);
        metadata[k] = s;
      }
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) throw new SafetensorsError(file, `tensor ${name}: entry is not an object`);
    const dtype = t.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZE)) throw new SafetensorsError(file, `tensor ${name}: unsupported dtype ${JSON.stringify(dtype)}`);
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(file, `tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new SafetensorsError(file, `tensor ${name}: bad data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * DTYPE_SIZE[dtype]) {
      throw new SafetensorsError(file, `tensor ${name}: data_offsets [${begin},${end}] span ${end - begin} bytes but ${dtype} [${shape.join(',')}] needs ${count * DTYPE_SIZE[dtype]}`);
    }
    if (end > dataLen) throw new SafetensorsError(file, `truncated: tensor ${name} ends at data byte ${end} but the data section has ${dataLen} bytes`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // The data must be covered exactly: sorted by offset, each tensor starts where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = '';
  for (const e of sorted) {
    if (e.begin < pos) throw new SafetensorsError(file, `bad offsets: tensor ${e.name} [${e.begin},${e.end}] overlaps ${prev}`);
    if (e.begin > pos) throw new SafetensorsError(file, `bad offsets: ${e.begin - pos} unreferenced bytes before tensor ${e.name} (at data byte ${pos})`);
    pos = e.end;
    prev = `${e.name} [${e.begin},${e.end}]`;
  }
  if (pos !== dataLen) throw new SafetensorsError(file, `bad offsets: ${dataLen - pos} bytes after the last tensor are not referenced`);

  const weights: WeightMap = new Map();
  const dtypes = new Map<string, string>();
  for (const e of entries) {
    weights.set(e.name, { shape: e.shape, data: decode(bytes, dataStart + e.begin, (e.end - e.begin) / DTYPE_SIZE[e.dtype], e.dtype) });
    dtypes.set(e.name, e.dtype);
  }
  return { weights, dtypes, metadata };
}

function decode(bytes: Uint8Array, off: number, n: number, dtype: string): Float32Array {
  if (dtype === 'F32') return decodeFloats(bytes, off, n, 4);
  if (dtype === 'F64') return decodeFloats(bytes, off, n, 8);
  if (dtype === 'F16') return decodeFloats(bytes, off, n, 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, n * DTYPE_SIZE[dtype]);
  const out = new Float32Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'BF16':
        u[0] = dv.getUint16(i * 2, true) << 16;
        out[i] = f[0];
        break;
      case 'I64':
        out[i] = Number(dv.getBigInt64(i * 8, true));
        break;
      case 'U64':
        out[i] = Number(dv.getBigUint64(i * 8, true));
        break;
      case 'I32':
        out[i] = dv.getInt32(i * 4, true);
        break;
      case 'U32':
        out[i] = dv.getUint32(i * 4, true);
        break;
      case 'I16':
        out[i] = dv.getInt16(i * 2, true);
        break;
      case 'U16':
        out[i] = dv.getUint16(i * 2, true);
        break;
      case 'I8':
        out[i] = dv.getInt8(i);
        break;
      default: // U8, BOOL
        out[i] = dv.getUint8(i);
    }
  }
  return out;
}

/** Writes a weight map as F32 safetensors (tensors in map order; header padded with spaces to 8 bytes). */
export function serializeSafetensors(weights: WeightMap, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = { ...metadata };
  let off = 0;
  for (const [name, t] of weights) {
    if (name === '__metadata__') throw new Error('serializeSafetensors: a tensor cannot be named __metadata__');
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`serializeSafetensors: tensor ${name} has shape [${t.shape.join(',')}] (${count} values) but ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + count * 4] };
    off += count * 4;
  }
  let jsonBytes = encodeUtf8(JSON.stringify(header));
  const pad = (8 - (jsonBytes.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(jsonBytes.length + pad).fill(0x20);
    padded.set(jsonBytes);
    jsonBytes = padded;
  }
  const out = new Uint8Array(8 + jsonBytes.length + off);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, jsonBytes.length, true);
  dv.setUint32(4, 0, true);
  out.set(jsonBytes, 8);
  let pos = 8 + jsonBytes.length;
  for (const t of weights.values()) {
    if (hostIsLittleEndian) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    else for (let i = 0; i < t.data.length; i++) dv.setFloat32(pos + i * 4, t.data[i], true);
    pos += t.data.byteLength;
  }
  return out;
}
