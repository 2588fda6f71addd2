// The uint8 row kernels of the input cache (quantizeU8, u8ToF32) against their f64 references, on
// awkward row lengths (not a multiple of 4: padded words), row offsets on both sides, and values at
// the rounding ties and outside [0, 255].
import { describe, it, beforeAll, expect } from 'vitest';
import { quantizeRowsU8, rowsU8ToF32, wordsPerRow, PREPROCESS, ShapeError, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { rng } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { quantizeRef, quantizeRowsRef, rowsToF32Ref } from '../reference/u8-rows.js';

describe('u8 row references', () => {
  it('round half to even, clamped', () => {
    expect([0.5, 1.5, 2.5, 2.4999, 2.5001, -3, 254.5, 255.5, 300].map(quantizeRef)).toEqual([0, 2, 2, 2, 3, 0, 254, 255, 255]);
  });
  it('packs rows little-endian with zero padding to whole words', () => {
    expect(Array.from(quantizeRowsRef([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 2, 5))).toEqual([0x04030201, 5, 0x09080706, 10]);
  });
});

describe(`${GPU} u8 rows`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  for (const rowLen of [5, 12, 27]) {
    it(`quantize then convert, rowLen ${rowLen}, with row offsets`, async () => {
      const rows = 3;
      const r = rng(rowLen);
      // 0..255 with fractions, exact ties, and a few out-of-range values.
      const vals = Array.from({ length: (rows + 1) * rowLen }, (_, i) => (i % 7 === 0 ? Math.floor(r() * 256) + 0.5 : i % 11 === 0 ? (r() < 0.5 ? -4.2 : 260.7) : Math.fround(r() * 255)));
      const src = e.upload(Float32Array.from(vals), [(rows + 1) * rowLen]);
      const wpr = wordsPerRow(rowLen);
      const dst = e.upload(new Uint32Array((rows + 2) * wpr).fill(0xdeadbeef), [(rows + 2) * wpr], 'u32');
      // rows 1..3 of src → rows 2..4 of dst; rows 0..1 of dst untouched.
      quantizeRowsU8(e, src, dst, { rows, rowLen, srcRow: 1, dstRow: 2 });
      const got = new Uint32Array((await dst.read()).buffer);
      const want = quantizeRowsRef(vals.slice(rowLen), rows, rowLen);
      expect(Array.from(got.subarray(0, 2 * wpr))).toEqual(new Array(2 * wpr).fill(0xdeadbeef));
      expect(Array.from(got.subarray(2 * wpr))).toEqual(Array.from(want));

      for (const mode of ['tf', 'torch'] as const) {
        const out = e.upload(new Float32Array((rows + 1) * rowLen).fill(7), [(rows + 1) * rowLen]);
        rowsU8ToF32(e, dst, { rows: 2, rowLen, srcRow: 3, out, outRow: 1, preprocess: mode });
        const y = await out.read();
        expect(Array.from(y.subarray(0, rowLen))).toEqual(new Array(rowLen).fill(7));
        expect(Array.from(y.subarray(3 * rowLen))).toEqual(new Array(rowLen).fill(7));
        const ref = rowsToF32Ref(want.subarray(wpr), 2, rowLen, PREPROCESS[mode]);
        expectClose(y.subarray(rowLen, 3 * rowLen), ref, { rtol: 1e-6, atol: 1e-6, what: `u8ToF32 ${mode}` });
        out.dispose();
      }
      [src, dst].forEach((t) => t.dispose());
    });
  }

  it('tf scaling of bytes is exact: 0 → -1, 255 → 1', async () => {
    const w = e.upload(Uint32Array.of(0x00ff00ff, 0x80), [2], 'u32');
    const y = rowsU8ToF32(e, w, { rows: 1, rowLen: 5 });
    expect(Array.from(await y.read())).toEqual([255, 0, 255, 0, 128].map((b) => Math.fround(Math.fround(b / 127.5) - 1)));
    [w, y].forEach((t) => t.dispose());
  });

  it('rejects wrong dtypes and short buffers', () => {
    const f = e.alloc([10]);
    const u = e.alloc([2], 'u32');
    expect(() => quantizeRowsU8(e, u, f, { rows: 1, rowLen: 5 })).toThrow(ShapeError);
    expect(() => quantizeRowsU8(e, f, u, { rows: 2, rowLen: 5 })).toThrow(/fewer rows/);
    expect(() => rowsU8ToF32(e, u, { rows: 1, rowLen: 12 })).toThrow(/fewer rows/);
    [f, u].forEach((t) => t.dispose());
  });
});
