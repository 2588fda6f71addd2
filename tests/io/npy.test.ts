// .npy parsing: headers v1/v2/v3, f4/f8/f2 → f32, C order; clear errors naming the file.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseNpy, serializeNpy, NpyError } from '@mnv2/core';
import { TFSLIM_DIR } from './files.js';

/** Builds a .npy by hand: any version, descr, shape text and payload. */
function npy(opts: { version?: number; descr?: string; fortran?: boolean; shape: string; payload: Uint8Array }): Uint8Array {
  const v = opts.version ?? 1;
  const pre = v === 1 ? 10 : 12;
  let header = `{'descr': '${opts.descr ?? '<f4'}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${opts.shape}, }`;
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + header.length + opts.payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v, 0]);
  const dv = new DataView(out.buffer);
  if (v === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(opts.payload, pre + header.length);
  return out;
}
const f64 = (xs: number[]) => new Uint8Array(new Float64Array(xs).buffer);
const f32 = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

describe('npy', () => {
  it('reads a real TF-Slim file (v1 header, <f4, HWIO)', () => {
    const a = parseNpy(readFileSync(`${TFSLIM_DIR}Conv_weights.npy`), 'Conv_weights.npy');
    expect(a.shape).toEqual([3, 3, 3, 32]);
    expect(a.dtype).toBe('<f4');
    expect(a.data.length).toBe(864);
    expect(a.data.every(Number.isFinite)).toBe(true);
    const v = parseNpy(readFileSync(`${TFSLIM_DIR}Conv_BatchNorm_moving_variance.npy`));
    expect(v.shape).toEqual([32]);
    expect(v.data.every((x) => x >= 0)).toBe(true);
  });

  it('v2 header, <f8 → f32, scalar and 1-D shapes, unaligned data', () => {
    const a = parseNpy(npy({ version: 2, descr: '<f8', shape: '(2, 3)', payload: f64([1, 2, 3, 4, 5, 6.5]) }));
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
    const s = parseNpy(npy({ shape: '()', payload: f32([7]) }));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data)).toEqual([7]);
    const one = parseNpy(npy({ shape: '(3,)', payload: f32([1, -2, 3]) }));
    expect(one.shape).toEqual([3]);
    // A view at an odd byte offset must still parse (data copied, not aliased).
    const bytes = npy({ shape: '(2,)', payload: f32([0.5, 0.25]) });
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    expect(Array.from(parseNpy(padded.subarray(1)).data)).toEqual([0.5, 0.25]);
  });

  it('float16 and big-endian f4', () => {
    const h = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]); // 1, -2
    expect(Array.from(parseNpy(npy({ descr: '<f2', shape: '(2,)', payload: h })).data)).toEqual([1, -2]);
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    new DataView(be.buffer).setFloat32(4, -3, false);
    expect(Array.from(parseNpy(npy({ descr: '>f4', shape: '(2,)', payload: be })).data)).toEqual([1.5, -3]);
  });

  it('serializeNpy round-trips', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const a = parseNpy(serializeNpy([3, 2], data));
    expect(a.shape).toEqual([3, 2]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(parseNpy(serializeNpy([6], data)).shape).toEqual([6]);
  });

  it('errors name the file: truncated data, truncated header, wrong dtype, fortran order, bad magic', () => {
    const full = readFileSync(`${TFSLIM_DIR}Conv_weights.npy`);
    expect(() => parseNpy(full.subarray(0, full.length - 4), 'Conv_weights.npy')).toThrow(/Conv_weights\.npy: truncated data: shape \(3, 3, 3, 32\) of '<f4' needs 3456 bytes, file has 3452/);
    expect(() => parseNpy(full.subarray(0, 40), 'Conv_weights.npy')).toThrow(/Conv_weights\.npy: truncated header/);
    expect(() => parseNpy(npy({ descr: '<i4', shape: '(2,)', payload: new Uint8Array(8) }), 'ints.npy')).toThrow(/ints\.npy: dtype '<i4' is not supported/);
    expect(() => parseNpy(npy({ descr: '|u1', shape: '(2,)', payload: new Uint8Array(2) }), 'u8.npy')).toThrow(NpyError);
    expect(() => parseNpy(npy({ fortran: true, shape: '(2, 2)', payload: f32([1, 2, 3, 4]) }), 'f.npy')).toThrow(/f\.npy: fortran_order=True/);
    expect(() => parseNpy(new Uint8Array(32), 'zeros.npy')).toThrow(/zeros\.npy: not a \.npy file/);
  });
});
