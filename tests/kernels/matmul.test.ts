import { describe, it, beforeAll, expect } from 'vitest';
import { matmul, chooseMatmulVariant, hasSubgroups8, ShapeError, type Engine, type Tensor } from '@mnv2/core';
import type { MatmulMap, MatmulShare } from '@mnv2/kernels';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import { matmulRef, matmulBackwardRef, transposeRef, epilogueRef } from '../reference/matmul.js';

const DIMS = [1, 3, 5, 7, 17, 33, 64];
const TRANS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];
const tol = (K: number) => ({ rtol: 1e-4, atol: 2e-6 * Math.max(8, K) });

describe('matmul reference', () => {
  it('backward matches finite differences', () => {
    const [M, K, N] = [3, 5, 4];
    const a = randArray(M * K, 1);
    const b = randArray(K * N, 2);
    const dy = randomDy(M * N);
    gradcheck((i) => matmulRef(i.a, i.b, M, K, N), { a, b }, matmulBackwardRef(a, b, dy, M, K, N), dy);
  });
  it('transposed operands equal explicit transposes', () => {
    const [M, K, N] = [4, 3, 5];
    const a = randArray(M * K, 3);
    const b = randArray(K * N, 4);
    const c = matmulRef(a, b, M, K, N);
    expectClose(matmulRef(transposeRef(a, M, K), b, M, K, N, { transA: true }), c);
    expectClose(matmulRef(a, transposeRef(b, K, N), M, K, N, { transB: true }), c);
    expectClose(matmulRef(transposeRef(a, M, K), transposeRef(b, K, N), M, K, N, { transA: true, transB: true }), c);
  });
});

describe(`${GPU} matmul`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  const upload = (n: number, seed: number, shape: number[]) => {
    const v = randArray(n, seed);
    return { v, t: e.upload(f32(v), shape) };
  };

  for (const [transA, transB] of TRANS) {
    it(`all M,K,N in {${DIMS}}, transA=${transA} transB=${transB}`, async () => {
      // Record every product first (one submit), then read and compare.
      const cases: { M: number; K: number; N: number; ref: Float64Array; out: Tensor; ins: Tensor[] }[] = [];
      let seed = 10;
      for (const M of DIMS)
        for (const K of DIMS)
          for (const N of DIMS) {
            const a = upload(M * K, seed++, transA ? [K, M] : [M, K]);
            const b = upload(K * N, seed++, transB ? [N, K] : [K, N]);
            const out = matmul(e, a.t, b.t, { transA, transB });
            expect(out.shape).toEqual([M, N]);
            cases.push({ M, K, N, ref: matmulRef(a.v, b.v, M, K, N, { transA, transB }), out, ins: [a.t, b.t] });
          }
      for (const c of cases) {
        expectClose(await c.out.read(), c.ref, { ...tol(c.K), what: `C ${c.M}x${c.K}x${c.N}` });
        [c.out, ...c.ins].forEach((t) => t.dispose());
      }
    });
  }

  // Block shapes and mappings of the plain form on edges that cut through blocks, every layout
  // (the vec4 form on the aligned shape, the one-k-per-step form on the odd one).
  // (Blocks of 64 outputs, e.g. 8x8 or 16x4, compile for ~1 s each on a cold Mesa shader cache and
  // the heuristic never picks them in the plain form; the generator's loops are the same.)
  const PLAIN: [number, number, MatmulMap][] = [
    [1, 4, 'n-fast'],
    [2, 8, 'n-fast'],
    [4, 4, 'n-fast'],
    [4, 8, 'm-fast'],
    [8, 4, 'n-fast'],
  ];
  for (const [bm, bn, map] of PLAIN) {
    it(`plain block ${bm}x${bn} ${map}`, async () => {
      const checks: (() => Promise<void>)[] = [];
      let seed = 1000 * bm + bn;
      for (const [M, K, N] of [
        [37, 8, 20],
        [9, 7, 13],
      ])
        for (const [transA, transB] of TRANS) {
          const a = upload(M * K, seed++, transA ? [K, M] : [M, K]);
          const b = upload(K * N, seed++, transB ? [N, K] : [K, N]);
          const out = matmul(e, a.t, b.t, { transA, transB, variant: { tile: { bm, bn, map, share: 'none' } } });
          const ref = matmulRef(a.v, b.v, M, K, N, { transA, transB });
          checks.push(async () => expectClose(await out.read(), ref, { ...tol(K), what: `${M}x${K}x${N} tA=${transA} tB=${transB}` }));
        }
      for (const c of checks) await c();
    });
  }

  // Subgroup-shared forms: fragment counts below, at and above the 8 lanes; blocks cut by the edges.
  const SHARED: [number, number, MatmulShare, MatmulMap][] = [
    [8, 4, 'a', 'n-fast'],
    [4, 8, 'a', 'm-fast'],
    [16, 4, 'a', 'n-fast'],
    [1, 8, 'a', 'n-fast'],
    [4, 16, 'b', 'n-fast'],
    [4, 8, 'b', 'm-fast'],
    [8, 4, 'b', 'n-fast'],
    [2, 16, 'b', 'n-fast'],
  ];
  for (const [bm, bn, share, map] of SHARED) {
    it(`shared-${share} block ${bm}x${bn} ${map} (8-lane subgroups; refused on other sizes)`, async () => {
      if (!hasSubgroups8(e)) {
        // e.g. SwiftShader (4 lanes): the form would be wrong there, so it must refuse, never run.
        const a = upload(16, 1, [4, 4]);
        const b = upload(16, 2, [4, 4]);
        expect(() => matmul(e, a.t, b.t, { variant: { tile: { bm, bn, map, share } } })).toThrow(/needs subgroups of exactly 8 lanes/);
        return;
      }
      const checks: (() => Promise<void>)[] = [];
      let seed = 2000 * bm + bn;
      for (const [M, K, N] of [
        [44, 12, 36],
        [4, 8, 4],
      ])
        for (const [transA, transB] of TRANS) {
          const a = upload(M * K, seed++, transA ? [K, M] : [M, K]);
          const b = upload(K * N, seed++, transB ? [N, K] : [K, N]);
          const out = matmul(e, a.t, b.t, { transA, transB, variant: { tile: { bm, bn, map, share } } });
          const ref = matmulRef(a.v, b.v, M, K, N, { transA, transB });
          checks.push(async () => expectClose(await out.read(), ref, { ...tol(K), what: `${M}x${K}x${N} tA=${transA} tB=${transB}` }));
        }
      for (const c of checks) await c();
    });
  }

  it('split-K: the heuristic splits a long K with a small output', () => {
    const info = (M: number, K: number, N: number) => ({ M, N, K, transA: true, transB: false, subgroups8: hasSubgroups8(e) });
    expect(chooseMatmulVariant(info(5, 1000, 7)).splitK).toBeGreaterThan(2);
    expect(chooseMatmulVariant(info(16, 100352, 96)).splitK).toBeGreaterThan(8);
    expect(chooseMatmulVariant(info(1024, 1024, 1024)).splitK).toBe(1);
  });

  for (const [M, K, N, slices] of [
    [5, 1000, 7, 0], // heuristic (several slices)
    [5, 1001, 7, 3], // K not a multiple of 4, ragged last slice
    [16, 996, 12, 5], // vec4 along M and N
    [3, 130, 64, 40], // more slices than fit: clamped to ceil(K / 4-aligned chunk)
    [8, 1024, 64, 0], // heuristic: subgroup-shared forms with split-K on an 8-lane adapter
    [128, 1024, 8, 0],
  ]) {
    for (const [transA, transB] of TRANS) {
      it(`split-K ${M}x${K}x${N} slices=${slices || 'auto'} transA=${transA} transB=${transB}, epilogue`, async () => {
        const a = upload(M * K, M + K, transA ? [K, M] : [M, K]);
        const b = upload(K * N, N + K, transB ? [N, K] : [K, N]);
        const scale = randArray(N, 7, 0.5, 2);
        const shift = randArray(N, 8, -1, 1);
        const variant = slices ? { splitK: slices } : {};
        const out = matmul(e, a.t, b.t, { transA, transB, variant, epilogue: { scale: e.upload(f32(scale), [N]), shift: e.upload(f32(shift), [N]), relu6: true } });
        const ref = epilogueRef(matmulRef(a.v, b.v, M, K, N, { transA, transB }), N, { scale, shift, relu6: true });
        expectClose(await out.read(), ref, tol(K));
      });
    }
  }

  for (const relu6 of [false, true])
    for (const affine of ['shift', 'scale-shift'] as const)
      for (const [M, K, N] of [
        [7, 5, 3],
        [17, 33, 64],
        [5, 17, 6],
      ]) {
        it(`epilogue ${affine}${relu6 ? '+relu6' : ''} ${M}x${K}x${N}`, async () => {
          const a = upload(M * K, 21, [M, K]);
          const b = upload(K * N, 22, [K, N]);
          const scale = affine === 'scale-shift' ? randArray(N, 23, 0.5, 3) : undefined;
          const shift = randArray(N, 24, -1, 1);
          const out = matmul(e, a.t, b.t, {
            epilogue: { scale: scale && e.upload(f32(scale), [N]), shift: e.upload(f32(shift), [N]), relu6 },
          });
          expectClose(await out.read(), epilogueRef(matmulRef(a.v, b.v, M, K, N), N, { scale, shift, relu6 }), tol(K));
        });
      }

  it('shape errors name the op and the shapes', () => {
    const a = e.upload(new Float32Array(6), [2, 3]);
    const b = e.upload(new Float32Array(8), [4, 2]);
    expect(() => matmul(e, a, b)).toThrow(ShapeError);
    expect(() => matmul(e, a, b)).toThrow(/matmul: inner dimensions differ.*a=\[2,3\].*b=\[4,2\]/);
    expect(() => matmul(e, a, e.upload(new Float32Array(3), [3]))).toThrow(/matmul: b must be a 2D matrix/);
    expect(() => matmul(e, a, e.upload(new Float32Array(6), [3, 2]), { epilogue: { shift: e.upload(new Float32Array(3), [3]) } })).toThrow(
      /epilogue shift must have one value per output channel/,
    );
  });
});
