// safetensors: round trip, other dtypes, and errors for corrupt headers / offsets / truncation.
import { describe, it, expect } from 'vitest';
import { parseSafetensors, serializeSafetensors, importTfSlim, type WeightMap } from '@mnv2/core';
import { readTfSlimFolder } from './files.js';

/** A file from a header object and a data section, as another writer would produce it. */
function build(header: Record<string, unknown>, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips a weight map with metadata (header padded to 8 bytes)', () => {
    const m: WeightMap = new Map([
      ['Conv1/kernel', { shape: [3, 3, 3, 2], data: new Float32Array(54).map((_, i) => i * 0.5 - 3) }],
      ['bn_Conv1/gamma', { shape: [2], data: new Float32Array([1, -0]) }],
      ['scalar', { shape: [], data: new Float32Array([42]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const bytes = serializeSafetensors(m, { format: 'mnv2', alpha: '1.0', note: 'ünïcode ✓' });
    const headerLen = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLen % 8).toBe(0);
    const back = parseSafetensors(bytes, 'rt.safetensors');
    expect(back.metadata).toEqual({ format: 'mnv2', alpha: '1.0', note: 'ünïcode ✓' });
    expect([...back.weights.keys()]).toEqual([...m.keys()]);
    for (const [k, t] of m) {
      expect(back.weights.get(k)!.shape).toEqual(t.shape);
      expect(back.weights.get(k)!.data).toEqual(t.data);
      expect(back.dtypes.get(k)).toBe('F32');
    }
    expect(Object.is(back.weights.get('bn_Conv1/gamma')!.data[1], -0)).toBe(true);
  });

  it('round-trips the whole TF-Slim base (260 tensors) bit for bit', () => {
    const { weights } = importTfSlim(readTfSlimFolder());
    const back = parseSafetensors(serializeSafetensors(weights)).weights;
    expect(back.size).toBe(260);
    let diff = 0;
    for (const [k, t] of weights) {
      const u = new Uint32Array(back.get(k)!.data.buffer);
      const v = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
      for (let i = 0; i < v.length; i++) if (u[i] !== v[i]) diff++;
    }
    expect(diff).toBe(0);
  });

  it('reads F16, BF16, F64 and integer tensors as f32', () => {
    const data = new Uint8Array(4 + 4 + 8 + 8);
    const dv = new DataView(data.buffer);
    dv.setUint16(0, 0x3c00, true); // f16 1
    dv.setUint16(2, 0xc000, true); // f16 -2
    dv.setUint16(4, 0x3fc0, true); // bf16 1.5
    dv.setUint16(6, 0xc040, true); // bf16 -3
    dv.setFloat64(8, 0.1, true);
    dv.setBigInt64(16, -7n, true);
    const f = parseSafetensors(
      build(
        {
          h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
          b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
          d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
          n: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
        },
        data,
      ),
    );
    expect(Array.from(f.weights.get('h')!.data)).toEqual([1, -2]);
    expect(Array.from(f.weights.get('b')!.data)).toEqual([1.5, -3]);
    expect(f.weights.get('d')!.data[0]).toBeCloseTo(0.1, 7);
    expect(f.weights.get('n')!.data[0]).toBe(-7);
    expect(f.dtypes.get('b')).toBe('BF16');
  });

  it('errors for truncated files, corrupt headers and bad offsets name the file and tensor', () => {
    const good = serializeSafetensors(new Map([['a/kernel', { shape: [4], data: new Float32Array(4) }], ['b/bias', { shape: [2], data: new Float32Array(2) }]]));
    const f = 'w.safetensors';
    expect(() => parseSafetensors(good.subarray(0, 5), f)).toThrow(/w\.safetensors: truncated: 5 bytes/);
    expect(() => parseSafetensors(good.subarray(0, 30), f)).toThrow(/w\.safetensors: truncated or corrupt: header length \d+ but only 22 bytes follow/);
    expect(() => parseSafetensors(good.subarray(0, good.length - 4), f)).toThrow(/w\.safetensors: truncated: tensor b\/bias ends at data byte 24 but the data section has 20 bytes/);
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(4, 1, true); // header length ≥ 2^32
    expect(() => parseSafetensors(huge, f)).toThrow(/header length 4294967\d+/);
    expect(() => parseSafetensors(build({}, new Uint8Array(0), '{"a": {"dtype": "F32", '), f)).toThrow(/w\.safetensors: corrupt header \(not UTF-8 JSON\)/);
    expect(() => parseSafetensors(build({}, new Uint8Array(0), '[1,2]'), f)).toThrow(/not a JSON object/);
    const d16 = new Uint8Array(16);
    expect(() => parseSafetensors(build({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, d16), f)).toThrow(/tensor x: data_offsets \[0,12\] span 12 bytes but F32 \[4\] needs 16/);
    expect(() => parseSafetensors(build({ x: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, d16), f)).toThrow(/tensor x: bad data_offsets \[8,0\]/);
    expect(() => parseSafetensors(build({ x: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, d16), f)).toThrow(/tensor x: unsupported dtype "Q4"/);
    expect(() => parseSafetensors(build({ x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, d16), f)).toThrow(/tensor x: bad shape/);
    expect(() =>
      parseSafetensors(build({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, y: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, d16), f),
    ).toThrow(/tensor y \[8,16\] overlaps x \[0,12\]/);
    expect(() => parseSafetensors(build({ x: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, d16), f)).toThrow(/8 unreferenced bytes before tensor x/);
    expect(() => parseSafetensors(build({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, d16), f)).toThrow(/8 bytes after the last tensor/);
    expect(() => parseSafetensors(build({ __metadata__: { a: 1 } }, new Uint8Array(0)), f)).toThrow(/__metadata__\.a must be a string/);
  });
});
