import { describe, it, expect, beforeAll } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardFilter, convGeometry, type Engine, type PaddingMode } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import { conv2dRef, conv2dBackwardInputRef, conv2dBackwardFilterRef, axisRef } from '../reference/conv2d.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('convGeometry', () => {
  it('matches TF "same" and PyTorch "symmetric" output sizes and padding', () => {
    // MobileNetV2 stem at 224: TF pads 0 before / 1 after; PyTorch pads 1 and 1. Both give 112.
    expect(convGeometry(224, 224, 3, 2, 'same')).toEqual({ outH: 112, outW: 112, padTop: 0, padLeft: 0 });
    expect(convGeometry(224, 224, 3, 2, 'symmetric')).toEqual({ outH: 112, outW: 112, padTop: 1, padLeft: 1 });
    expect(convGeometry(7, 5, 3, 2, 'same')).toEqual({ outH: 4, outW: 3, padTop: 1, padLeft: 1 });
    expect(convGeometry(7, 6, 3, 2, 'symmetric')).toEqual({ outH: 4, outW: 3, padTop: 1, padLeft: 1 });
    expect(convGeometry(56, 56, 3, 1, 'same')).toEqual({ outH: 56, outW: 56, padTop: 1, padLeft: 1 });
    expect(convGeometry(1, 1, 3, 2, 'same')).toEqual({ outH: 1, outW: 1, padTop: 1, padLeft: 1 });
    expect(convGeometry(1, 1, 3, 2, 'symmetric')).toEqual({ outH: 1, outW: 1, padTop: 1, padLeft: 1 });
    expect(convGeometry(8, 8, 5, 2, 'same')).toEqual({ outH: 4, outW: 4, padTop: 1, padLeft: 1 });
    for (const p of ['same', 'symmetric'] as PaddingMode[])
      for (const s of [1, 2])
        for (const k of [1, 3, 5])
          for (let n = 1; n <= 12; n++) {
            const g = convGeometry(n, n, k, s, p);
            const r = axisRef(n, k, s, p);
            expect([g.outH, g.padTop]).toEqual([r.out, r.pad]);
          }
  });
});

describe('conv2d reference', () => {
  for (const [xShape, cout, stride, padding] of [
    [[1, 5, 4, 3], 4, 2, 'same'],
    [[2, 4, 5, 2], 3, 1, 'symmetric'],
    [[1, 5, 5, 2], 2, 2, 'symmetric'],
  ] as [number[], number, number, PaddingMode][]) {
    it(`backward matches finite differences, x=[${xShape}] cout=${cout} s${stride} ${padding}`, () => {
      const o = { stride, padding };
      const k = 3;
      const x = randArray(prod(xShape), 1);
      const w = randArray(k * k * xShape[3] * cout, 2);
      const { y } = conv2dRef(x, xShape, w, k, cout, o);
      const dy = randomDy(y.length);
      gradcheck((i) => conv2dRef(i.x, xShape, i.w, k, cout, o).y, { x, w }, {
        x: conv2dBackwardInputRef(dy, w, k, cout, xShape, o),
        w: conv2dBackwardFilterRef(x, xShape, dy, k, cout, o),
      }, dy);
    });
  }
});

interface Case {
  x: number[];
  cout: number;
  stride: 1 | 2;
  padding: PaddingMode;
  ep?: 'scale-shift+relu6' | 'shift';
  k?: number;
}

const CASES: Case[] = [
  { x: [1, 7, 5, 3], cout: 8, stride: 2, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [1, 7, 5, 3], cout: 8, stride: 2, padding: 'symmetric' },
  { x: [2, 9, 9, 5], cout: 5, stride: 1, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [2, 9, 9, 3], cout: 6, stride: 2, padding: 'symmetric' },
  { x: [2, 6, 8, 8], cout: 4, stride: 2, padding: 'same' },
  { x: [1, 1, 1, 3], cout: 8, stride: 2, padding: 'same', ep: 'shift' },
  { x: [1, 1, 1, 3], cout: 3, stride: 1, padding: 'symmetric' },
  { x: [2, 5, 7, 4], cout: 12, stride: 1, padding: 'symmetric', ep: 'shift' },
  { x: [1, 16, 16, 3], cout: 32, stride: 2, padding: 'same', ep: 'scale-shift+relu6' }, // the stem, small
  { x: [1, 6, 7, 3], cout: 5, stride: 2, padding: 'same', k: 5 }, // generic k (scalar: compiles fast)
  { x: [2, 3, 5, 5], cout: 8, stride: 1, padding: 'symmetric', k: 1 },
];

describe(`${GPU} conv2d`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  for (const c of CASES) {
    const k = c.k ?? 3;
    it(`k${k} x=[${c.x}] cout=${c.cout} s${c.stride} ${c.padding}${c.ep ? ` +${c.ep}` : ''}: forward, dx, dw`, async () => {
      const o = { stride: c.stride, padding: c.padding };
      const cin = c.x[3];
      const x = randArray(prod(c.x), 11);
      const w = randArray(k * k * cin * c.cout, 12);
      // Scale/shift large enough that ReLU6 clamps at both ends (clamping is 1-Lipschitz, so f32
      // rounding near the kinks cannot exceed the tolerance).
      const scale = c.ep === 'scale-shift+relu6' ? randArray(c.cout, 13, 1, 4) : undefined;
      const shift = c.ep ? randArray(c.cout, 14, -1, 3) : undefined;
      const ref = conv2dRef(x, c.x, w, k, c.cout, o, { scale, shift, relu6: c.ep === 'scale-shift+relu6' });
      const dy = randomDy(ref.y.length, 15);

      const xt = e.upload(f32(x), c.x);
      const wt = e.upload(f32(w), [k, k, cin, c.cout]);
      const epilogue = c.ep
        ? { scale: scale && e.upload(f32(scale), [c.cout]), shift: e.upload(f32(shift!), [c.cout]), relu6: c.ep === 'scale-shift+relu6' }
        : undefined;
      const y = conv2d(e, xt, wt, { ...o, epilogue });
      expect(y.shape).toEqual(ref.shape);
      const dyt = e.upload(f32(dy), ref.shape);
      const dx = conv2dBackwardInput(e, dyt, wt, c.x, o);
      const dw = conv2dBackwardFilter(e, xt, dyt, { ...o, kernelSize: k });
      expect(dw.shape).toEqual([k, k, cin, c.cout]);
      expectClose(await y.read(), ref.y, { what: 'y' });
      expectClose(await dx.read(), conv2dBackwardInputRef(dy, w, k, c.cout, c.x, o), { what: 'dx' });
      expectClose(await dw.read(), conv2dBackwardFilterRef(x, c.x, dy, k, c.cout, o), { what: 'dw' });
      for (const t of [xt, wt, y, dyt, dx, dw, epilogue?.scale, epilogue?.shift]) t?.dispose();
    });
  }

  it('bad shapes throw ShapeErrors naming the op', () => {
    const x = e.upload(new Float32Array(1 * 5 * 5 * 3), [1, 5, 5, 3]);
    const w = e.upload(new Float32Array(3 * 3 * 3 * 4), [3, 3, 3, 4]);
    const o = { stride: 2, padding: 'same' } as const;
    expect(() => conv2d(e, x.reshape([5, 5, 3]), w, o)).toThrow(/conv2d: .*rank 4/);
    expect(() => conv2d(e, x, e.upload(new Float32Array(3 * 3 * 2 * 4), [3, 3, 2, 4]), o)).toThrow(/conv2d: .*channels/);
    expect(() => conv2d(e, x, w.reshape([3, 9, 1, 4]), o)).toThrow(/conv2d: .*square/);
    expect(() => conv2d(e, x, w, { stride: 3 as 2, padding: 'same' })).toThrow(/conv2d: stride/);
    expect(() => conv2d(e, x, w, { stride: 1, padding: 'valid' as 'same' })).toThrow(/conv2d: padding/);
    expect(() => conv2d(e, x, e.upload(new Float32Array(81 * 3 * 4), [9, 9, 3, 4]), o)).toThrow(/conv2d: kernel size/);
    expect(() => conv2d(e, x, w, { ...o, epilogue: { shift: e.upload(new Float32Array(3), [3]) } })).toThrow(/conv2d: epilogue/);
    const dyBad = e.upload(new Float32Array(1 * 2 * 3 * 4), [1, 2, 3, 4]);
    expect(() => conv2dBackwardInput(e, dyBad, w, [1, 5, 5, 3], o)).toThrow(/conv2dBackwardInput: dy must be \[1,3,3,4\]/);
    expect(() => conv2dBackwardInput(e, dyBad, w, [1, 5, 5], o)).toThrow(/conv2dBackwardInput: .*rank 4/);
    expect(() => conv2dBackwardFilter(e, x, dyBad, o)).toThrow(/conv2dBackwardFilter: dy must be/);
    expect(() => conv2dBackwardFilter(e, x, dyBad, { stride: 4 as 2, padding: 'same' })).toThrow(/conv2dBackwardFilter: stride/);
  });
});
