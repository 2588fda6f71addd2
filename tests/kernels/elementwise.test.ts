import { describe, it, beforeAll, expect } from 'vitest';
import {
  add,
  addInPlace,
  copyByKernel,
  fillInPlace,
  mulScalar,
  mulScalarInPlace,
  globalAvgPool,
  globalAvgPoolBackward,
  globalMaxPool,
  globalMaxPoolBackward,
  dropout,
  dropoutBackward,
  type Engine,
} from '@mnv2/core';
import { dropoutKey, dropoutBitsHost, dropoutThreshold } from '@mnv2/kernels';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32, rng } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import {
  addRef,
  globalAvgPoolRef,
  globalAvgPoolBackwardRef,
  globalMaxPoolRef,
  globalMaxPoolBackwardRef,
  dropoutMaskRef,
  dropoutRef,
} from '../reference/elementwise.js';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Distinct values (a shuffled ramp) so max pooling has no ties and finite differences are clean. */
function distinct(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = Float64Array.from({ length: n }, (_, i) => Math.fround(-1 + (2 * i) / n));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('elementwise references', () => {
  const shape = [2, 3, 2, 3];
  it('global average pool backward matches finite differences', () => {
    const x = randArray(size(shape), 1);
    const dy = randomDy(2 * 3);
    gradcheck((i) => globalAvgPoolRef(i.x, shape), { x }, { x: globalAvgPoolBackwardRef(dy, shape) }, dy);
  });
  it('global max pool backward matches finite differences (no ties)', () => {
    const x = distinct(size(shape), 2);
    const dy = randomDy(2 * 3);
    gradcheck((i) => globalMaxPoolRef(i.x, shape), { x }, { x: globalMaxPoolBackwardRef(x, dy, shape) }, dy);
  });
  it('global max pool backward splits the gradient between tied maxima', () => {
    const x = Float64Array.from([1, 3, 3, 0]); // [1, 2, 2, 1]: max 3 twice
    expectClose(globalMaxPoolBackwardRef(x, Float64Array.of(6), [1, 2, 2, 1]), [0, 3, 3, 0]);
  });
  it('dropout backward matches finite differences; the kernel package mirrors the reference hash', () => {
    const x = randArray(50, 3);
    const dy = randomDy(50);
    gradcheck((i) => dropoutRef(i.x, 0.4, 7), { x }, { x: dropoutRef(dy, 0.4, 7) }, dy);
    const m = dropoutMaskRef(1000, 0.3, 12345);
    const key = dropoutKey(12345);
    const t = dropoutThreshold(0.3);
    const mirrored = Array.from({ length: 1000 }, (_, i) => (dropoutBitsHost(key, i) >= t ? 1 : 0));
    expect(mirrored).toEqual(Array.from(m));
  });
});

// Awkward shapes: channels 3/5 (scalar) and 8/12/4 (vec4), batch 1 and 3, 1x1 spatial, odd sizes;
// [1,40,40,4] and [2,33,31,3] have enough rows per sample to split the pool into parts (two passes).
const POOL_SHAPES: number[][] = [
  [1, 1, 1, 3],
  [3, 1, 1, 5],
  [1, 3, 5, 8],
  [3, 7, 5, 5],
  [2, 9, 11, 12],
  [1, 40, 40, 4],
  [2, 33, 31, 3],
];

describe(`${GPU} elementwise`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  // [70001] and [4,33,33,16] give several rows per workgroup with ragged last rows (flat-loop.ts).
  for (const shape of [[1], [5], [3, 5], [2, 3, 3, 8], [1001], [70001], [4, 33, 33, 16]]) {
    it(`copyByKernel [${shape}]`, async () => {
      const a = f32(randArray(size(shape), 7 * size(shape)));
      const at = e.upload(a, shape);
      const y = copyByKernel(e, at);
      expect(y.shape).toEqual(shape);
      expect(y.buffer).not.toBe(at.buffer);
      expect(Array.from(await y.read())).toEqual(Array.from(a)); // bit-exact
      [at, y].forEach((t) => t.dispose());
    });

    it(`add, addInPlace, fill, mulScalar [${shape}]`, async () => {
      const n = size(shape);
      const a = randArray(n, n);
      const b = randArray(n, n + 1);
      const at = e.upload(f32(a), shape);
      const bt = e.upload(f32(b), shape);
      const acc = e.upload(f32(a), shape);
      const y = add(e, at, bt);
      addInPlace(e, acc, bt);
      addInPlace(e, acc, bt, -0.5); // acc = a + 0.5 b
      const s = mulScalar(e, at, -2.5);
      const self = e.upload(f32(b), shape);
      addInPlace(e, self, self); // same buffer: 2b
      mulScalarInPlace(e, self, 0.25); // b/2
      const filled = e.upload(f32(a), shape);
      fillInPlace(e, filled, 1.5);
      expectClose(await y.read(), addRef(a, b), { what: 'add' });
      expectClose(await acc.read(), a.map((v, i) => v + 0.5 * b[i]), { what: 'addInPlace' });
      expectClose(await s.read(), a.map((v) => -2.5 * v), { what: 'mulScalar' });
      expectClose(await self.read(), b.map((v) => v / 2), { what: 'addInPlace(t, t) then mulScalarInPlace' });
      expectClose(await filled.read(), new Float64Array(n).fill(1.5), { what: 'fill' });
      [at, bt, acc, y, s, self, filled].forEach((t) => t.dispose());
    });
  }

  it('add rejects different shapes', () => {
    const a = e.upload(new Float32Array(6), [2, 3]);
    const b = e.upload(new Float32Array(6), [3, 2]);
    expect(() => add(e, a, b)).toThrow(/add: a and b must have the same shape \(a=\[2,3\], b=\[3,2\]\)/);
  });

  for (const shape of POOL_SHAPES) {
    it(`global average pool forward and backward [${shape}]`, async () => {
      const [n, , , c] = shape;
      const x = randArray(size(shape), size(shape) + 7, -2, 3);
      const dy = randomDy(n * c, 11);
      const xt = e.upload(f32(x), shape);
      const y = globalAvgPool(e, xt);
      const dx = globalAvgPoolBackward(e, e.upload(f32(dy), [n, c]), shape);
      expect(y.shape).toEqual([n, c]);
      expectClose(await y.read(), globalAvgPoolRef(x, shape), { what: 'y' });
      expectClose(await dx.read(), globalAvgPoolBackwardRef(dy, shape), { what: 'dx' });
    });

    it(`global max pool forward and backward [${shape}]`, async () => {
      const [n, , , c] = shape;
      const x = distinct(size(shape), size(shape) + 5);
      const dy = randomDy(n * c, 13);
      const xt = e.upload(f32(x), shape);
      const y = globalMaxPool(e, xt);
      const dx = globalMaxPoolBackward(e, xt, e.upload(f32(dy), [n, c]));
      expectClose(await y.read(), globalMaxPoolRef(x, shape), { rtol: 0, atol: 0, what: 'y' });
      expectClose(await dx.read(), globalMaxPoolBackwardRef(x, dy, shape), { what: 'dx' });
    });
  }

  for (const shape of [[2, 3, 3, 4], [1, 2, 3, 5]]) {
    it(`global max pool with tied maxima shares the gradient [${shape}]`, async () => {
      const [n, , , c] = shape;
      // Small integers: many exact ties per channel, including all-equal channels.
      const r = rng(99);
      const x = Float64Array.from({ length: size(shape) }, (_, i) => (i % c === 1 ? 2 : Math.floor(r() * 3)));
      const dy = randomDy(n * c, 17);
      const xt = e.upload(f32(x), shape);
      const y = globalMaxPool(e, xt);
      const dx = globalMaxPoolBackward(e, xt, e.upload(f32(dy), [n, c]));
      expectClose(await y.read(), globalMaxPoolRef(x, shape), { rtol: 0, atol: 0, what: 'y' });
      expectClose(await dx.read(), globalMaxPoolBackwardRef(x, dy, shape), { what: 'dx' });
    });
  }

  it('dropout: empirical rate, 1/(1-rate) scaling, reference mask, determinism, backward uses the same mask', async () => {
    const n = 100_000;
    const rate = 0.3;
    const x = randArray(n, 21, 0.5, 1.5); // no zeros, so y == 0 marks a dropped element
    const xt = e.upload(f32(x), [n]);
    const y = await dropout(e, xt, rate, 1234).read();
    const y2 = await dropout(e, xt, rate, 1234).read();
    const yOther = await dropout(e, xt, rate, 1235).read();
    const mask = dropoutMaskRef(n, rate, 1234);
    let dropped = 0;
    let agreeOther = 0;
    let maskMismatches = 0;
    for (let i = 0; i < n; i++) {
      if (y[i] === 0) dropped++;
      if ((y[i] === 0 ? 0 : 1) !== mask[i]) maskMismatches++;
      if ((y[i] === 0) === (yOther[i] === 0)) agreeOther++;
    }
    expect(maskMismatches).toBe(0);
    expect(Math.abs(dropped / n - rate)).toBeLessThan(0.01); // σ ≈ 0.0014
    expect(y2.every((v, i) => v === y[i])).toBe(true); // same seed → same output
    expect(agreeOther / n).toBeLessThan(0.7); // independent masks agree on ≈ 0.3² + 0.7² = 0.58
    expectClose(y, dropoutRef(x, rate, 1234), { rtol: 1e-6, atol: 0, what: 'y = x/(1-rate) on kept' });
    const dy = randArray(n, 22, 0.5, 1.5);
    const dx = await dropoutBackward(e, e.upload(f32(dy), [n]), rate, 1234).read();
    let backwardMismatches = 0;
    for (let i = 0; i < n; i++) if ((dx[i] === 0) !== (y[i] === 0)) backwardMismatches++;
    expect(backwardMismatches).toBe(0);
    expectClose(dx, dropoutRef(dy, rate, 1234), { rtol: 1e-6, atol: 0, what: 'dx' });
  });

  for (const n of [1, 5, 63, 1001]) {
    it(`dropout on odd lengths matches the reference mask (scalar path), n=${n}`, async () => {
      const x = randArray(n, n + 40, 0.5, 1.5);
      const xt = e.upload(f32(x), [n]);
      expectClose(await dropout(e, xt, 0.5, 77).read(), dropoutRef(x, 0.5, 77), { rtol: 1e-6, atol: 0 });
      expectClose(await dropoutBackward(e, xt, 0.5, 77).read(), dropoutRef(x, 0.5, 77), { rtol: 1e-6, atol: 0 });
      expectClose(await dropout(e, xt, 0, 77).read(), x, { rtol: 0, atol: 0, what: 'rate 0 is the identity' });
    });
  }

  it('dropout rejects a rate outside [0, 1) and a non-integer seed', () => {
    const x = e.upload(new Float32Array(4), [4]);
    expect(() => dropout(e, x, 1, 0)).toThrow(/dropout: rate must be in \[0, 1\)/);
    expect(() => dropout(e, x, 0.5, 1.5)).toThrow(/dropout: seed must be an integer/);
  });
});
