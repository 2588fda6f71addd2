import { describe, it, beforeAll, expect } from 'vitest';
import { pointwiseConv2d, pointwiseConv2dBackwardInput, pointwiseConv2dBackwardFilter, ShapeError, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import {
  pointwiseConv2dRef,
  pointwiseConv2dBackwardInputRef,
  pointwiseConv2dBackwardFilterRef,
} from '../reference/matmul.js';

const tol = (K: number) => ({ rtol: 1e-4, atol: 2e-6 * Math.max(8, K) });

describe('pointwiseConv2d reference', () => {
  it('backward matches finite differences', () => {
    const [P, Cin, Cout] = [6, 3, 5];
    const x = randArray(P * Cin, 1);
    const w = randArray(Cin * Cout, 2);
    const dy = randomDy(P * Cout);
    gradcheck((i) => pointwiseConv2dRef(i.x, i.w, P, Cin, Cout), { x, w }, {
      x: pointwiseConv2dBackwardInputRef(dy, w, P, Cin, Cout),
      w: pointwiseConv2dBackwardFilterRef(x, dy, P, Cin, Cout),
    }, dy);
  });
});

describe(`${GPU} pointwiseConv2d`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  // [N, H, W, Cin, Cout]: batch 1, 1x1 spatial, Cin = 3 / 5, vec4-aligned channels, pixels enough
  // for split-K in the filter gradient (1000 = 1x25x40 with Cin 5, Cout 7).
  const SHAPES: [number, number, number, number, number][] = [
    [1, 1, 1, 3, 5],
    [1, 1, 1, 16, 8],
    [2, 3, 5, 5, 3],
    [1, 4, 4, 3, 8],
    [2, 7, 7, 16, 24],
    [1, 9, 9, 32, 16],
    [1, 25, 40, 5, 7],
    [4, 16, 16, 8, 12],
  ];
  for (const [n, h, w, cin, cout] of SHAPES) {
    const P = n * h * w;
    it(`forward + epilogue, backward input and filter: [${n},${h},${w},${cin}] x [${cin},${cout}]`, async () => {
      const xv = randArray(P * cin, P + cin);
      const wv = randArray(cin * cout, cin * cout);
      const dyv = randomDy(P * cout, P + cout);
      const scale = randArray(cout, 3, 0.5, 2);
      const shift = randArray(cout, 4, -0.5, 0.5);
      const x = e.upload(f32(xv), [n, h, w, cin]);
      const wt = e.upload(f32(wv), [cin, cout]);
      const dy = e.upload(f32(dyv), [n, h, w, cout]);
      const y = pointwiseConv2d(e, x, wt);
      const yEp = pointwiseConv2d(e, x, wt, { epilogue: { scale: e.upload(f32(scale), [cout]), shift: e.upload(f32(shift), [cout]), relu6: true } });
      const dx = pointwiseConv2dBackwardInput(e, dy, wt);
      const dw = pointwiseConv2dBackwardFilter(e, x, dy);
      expect(y.shape).toEqual([n, h, w, cout]);
      expect(dx.shape).toEqual([n, h, w, cin]);
      expect(dw.shape).toEqual([cin, cout]);
      expectClose(await y.read(), pointwiseConv2dRef(xv, wv, P, cin, cout), { ...tol(cin), what: 'y' });
      expectClose(await yEp.read(), pointwiseConv2dRef(xv, wv, P, cin, cout, { scale, shift, relu6: true }), { ...tol(cin), what: 'y (epilogue)' });
      expectClose(await dx.read(), pointwiseConv2dBackwardInputRef(dyv, wv, P, cin, cout), { ...tol(cout), what: 'dx' });
      expectClose(await dw.read(), pointwiseConv2dBackwardFilterRef(xv, dyv, P, cin, cout), { ...tol(P), what: 'dw' });
    });
  }

  it('shape errors name the op and the shapes', () => {
    const x = e.upload(new Float32Array(2 * 2 * 2 * 3), [2, 2, 2, 3]);
    const w = e.upload(new Float32Array(4 * 5), [4, 5]);
    expect(() => pointwiseConv2d(e, x, w)).toThrow(ShapeError);
    expect(() => pointwiseConv2d(e, x, w)).toThrow(/pointwiseConv2d: filter rows must equal input channels.*x=\[2,2,2,3\].*w=\[4,5\]/);
    expect(() => pointwiseConv2dBackwardInput(e, x, w)).toThrow(/pointwiseConv2dBackwardInput: filter columns/);
    const dy = e.upload(new Float32Array(2 * 2 * 1 * 5), [2, 2, 1, 5]);
    expect(() => pointwiseConv2dBackwardFilter(e, x, dy)).toThrow(/pointwiseConv2dBackwardFilter: x and dy must have the same batch and spatial size/);
    expect(() => pointwiseConv2d(e, e.upload(new Float32Array(6), [2, 3]), w)).toThrow(/x must have rank 4/);
  });
});
