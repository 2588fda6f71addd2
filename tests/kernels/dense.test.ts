import { describe, it, beforeAll, expect } from 'vitest';
import { dense, denseBackward, columnSum, ShapeError, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import { denseRef, denseBackwardRef } from '../reference/matmul.js';

const tol = (K: number) => ({ rtol: 1e-4, atol: 2e-6 * Math.max(8, K) });

describe('dense reference', () => {
  for (const relu of [false, true]) {
    it(`backward matches finite differences${relu ? ' (relu)' : ''}`, () => {
      const [B, In, Out] = [3, 4, 5];
      const x = randArray(B * In, 1);
      const w = randArray(In * Out, 2);
      const b = randArray(Out, 3, -0.3, 0.3);
      const dy = randomDy(B * Out);
      const y = denseRef(x, w, b, B, In, Out, relu);
      gradcheck((i) => denseRef(i.x, i.w, i.b, B, In, Out, relu), { x, w, b }, denseBackwardRef(x, w, y, dy, B, In, Out, relu), dy);
    });
  }
});

describe(`${GPU} dense`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  // [batch, in, out]: Dense(1) heads, batch 1, odd sizes, the CIFAR-style Dense(128, relu), the
  // ImageNet classifier 1280 -> 1000 at batch 1 and 8.
  const SHAPES: [number, number, number][] = [
    [1, 7, 1],
    [4, 1280, 1],
    [2, 5, 3],
    [8, 33, 10],
    [3, 16, 128],
    [1, 1280, 1000],
    [8, 1280, 1000],
  ];
  for (const [B, In, Out] of SHAPES) {
    for (const relu of [false, true]) {
      it(`forward and backward [${B},${In}] x [${In},${Out}]${relu ? ' relu' : ''}`, async () => {
        const xv = randArray(B * In, B + In);
        const wv = randArray(In * Out, In + Out, -0.1, 0.1);
        const bv = randArray(Out, Out, -0.2, 0.2);
        const dyv = randomDy(B * Out, B * Out);
        const x = e.upload(f32(xv), [B, In]);
        const w = e.upload(f32(wv), [In, Out]);
        const b = e.upload(f32(bv), [Out]);
        const y = dense(e, x, w, b, { relu });
        const g = denseBackward(e, x, w, e.upload(f32(dyv), [B, Out]), { y, relu });
        expect(g.dx.shape).toEqual([B, In]);
        expect(g.dw.shape).toEqual([In, Out]);
        expect(g.db.shape).toEqual([Out]);
        const yGpu = await y.read();
        const yRef = denseRef(xv, wv, bv, B, In, Out, relu);
        expectClose(yGpu, yRef, { ...tol(In), what: 'y' });
        // The ReLU mask comes from the GPU's y (an f32 y within rounding of 0 may differ from f64).
        const ref = denseBackwardRef(xv, wv, yGpu, dyv, B, In, Out, relu);
        expectClose(await g.dx.read(), ref.x, { ...tol(Out), what: 'dx' });
        expectClose(await g.dw.read(), ref.w, { ...tol(B), what: 'dw' });
        expectClose(await g.db.read(), ref.b, { ...tol(B), what: 'db' });
      });
    }
  }

  it('columnSum of odd and vec4 widths', async () => {
    for (const [R, C] of [
      [5, 3],
      [7, 8],
      [1, 1],
    ]) {
      const v = randArray(R * C, R * C);
      const s = await columnSum(e, e.upload(f32(v), [R, C])).read();
      const ref = Array.from({ length: C }, (_, c) => Array.from({ length: R }, (_, r) => v[r * C + c]).reduce((a, b) => a + b, 0));
      expectClose(s, ref, { what: `colsum ${R}x${C}` });
    }
  });

  it('shape errors name the op and the shapes', () => {
    const x = e.upload(new Float32Array(6), [2, 3]);
    const w = e.upload(new Float32Array(8), [4, 2]);
    const b = e.upload(new Float32Array(2), [2]);
    expect(() => dense(e, x, w, b)).toThrow(ShapeError);
    expect(() => dense(e, x, w, b)).toThrow(/dense: weight rows must equal input features.*x=\[2,3\].*w=\[4,2\]/);
    const w3 = e.upload(new Float32Array(6), [3, 2]);
    expect(() => dense(e, x, w3, e.upload(new Float32Array(3), [3]))).toThrow(/dense: bias must be \[out\]/);
    expect(() => denseBackward(e, x, w3, e.upload(new Float32Array(4), [2, 2]), { relu: true })).toThrow(/denseBackward: relu backward needs the forward output y/);
    expect(() => denseBackward(e, x, w3, e.upload(new Float32Array(6), [2, 3]))).toThrow(/denseBackward: dy must be \[batch, out\]/);
  });
});
