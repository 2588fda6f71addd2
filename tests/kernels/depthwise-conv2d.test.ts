import { describe, it, expect, beforeAll } from 'vitest';
import {
  depthwiseConv2d,
  depthwiseConv2dBackwardInput,
  depthwiseConv2dBackwardFilter,
  depthwiseFilterForm,
  hasSubgroups8,
  DEPTHWISE_VARIANTS,
  DEFAULT_DEPTHWISE_VARIANT,
  type Engine,
  type PaddingMode,
} from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import { depthwiseConv2dRef, depthwiseConv2dBackwardInputRef, depthwiseConv2dBackwardFilterRef } from '../reference/depthwise-conv2d.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('depthwise-conv2d reference', () => {
  for (const [xShape, stride, padding] of [
    [[1, 5, 4, 3], 2, 'same'],
    [[2, 4, 5, 2], 1, 'symmetric'],
    [[1, 6, 5, 2], 2, 'symmetric'],
  ] as [number[], number, PaddingMode][]) {
    it(`backward matches finite differences, x=[${xShape}] s${stride} ${padding}`, () => {
      const o = { stride, padding };
      const k = 3;
      const x = randArray(prod(xShape), 1);
      const w = randArray(k * k * xShape[3], 2);
      const { y } = depthwiseConv2dRef(x, xShape, w, k, o);
      const dy = randomDy(y.length);
      gradcheck((i) => depthwiseConv2dRef(i.x, xShape, i.w, k, o).y, { x, w }, {
        x: depthwiseConv2dBackwardInputRef(dy, w, k, xShape, o),
        w: depthwiseConv2dBackwardFilterRef(x, xShape, dy, k, o),
      }, dy);
    });
  }
});

interface Case {
  x: number[];
  stride: 1 | 2;
  padding: PaddingMode;
  ep?: 'scale-shift+relu6' | 'shift';
  k?: number;
}

const CASES: Case[] = [
  { x: [1, 7, 5, 8], stride: 2, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [1, 7, 5, 8], stride: 2, padding: 'symmetric' },
  { x: [2, 9, 9, 5], stride: 1, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [2, 9, 9, 3], stride: 2, padding: 'symmetric' },
  { x: [2, 9, 9, 3], stride: 2, padding: 'same', ep: 'shift' },
  { x: [1, 1, 1, 8], stride: 2, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [1, 1, 1, 5], stride: 1, padding: 'symmetric' },
  { x: [2, 6, 8, 12], stride: 2, padding: 'same' },
  { x: [1, 10, 11, 16], stride: 1, padding: 'symmetric', ep: 'shift' },
  { x: [2, 14, 14, 32], stride: 1, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [1, 13, 14, 24], stride: 2, padding: 'same' },
  // Ragged strips and runs (the strip form splits rows into strips and columns into runs).
  { x: [1, 23, 19, 4], stride: 1, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [1, 23, 21, 4], stride: 2, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [1, 22, 19, 4], stride: 2, padding: 'symmetric' },
  // Generic k (MobileNetV2 only needs 3). Scalar C: vec4 k5 kernels take seconds to compile on lavapipe.
  { x: [1, 7, 6, 3], stride: 2, padding: 'same', k: 5 },
  { x: [1, 6, 5, 3], stride: 1, padding: 'symmetric', k: 5 },
  { x: [2, 3, 5, 8], stride: 2, padding: 'symmetric', k: 1 },
  // The subgroup form: several 8-column blocks (ragged), halo lanes across block edges, vec2 and
  // scalar lanes (C % 4 != 0), k5 at stride 2 (a span of 3 lane registers).
  { x: [1, 9, 37, 6], stride: 2, padding: 'same', ep: 'scale-shift+relu6' },
  { x: [2, 11, 17, 2], stride: 1, padding: 'symmetric', ep: 'shift' },
  { x: [1, 12, 20, 8], stride: 1, padding: 'same' },
  { x: [1, 9, 18, 6], stride: 2, padding: 'symmetric', k: 5 },
  { x: [1, 8, 19, 2], stride: 1, padding: 'same', k: 5 },
  { x: [2, 6, 35, 8], stride: 2, padding: 'symmetric' },
];

describe(`${GPU} depthwise-conv2d`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  it(`the default variant is one of the variants`, () => {
    expect(DEPTHWISE_VARIANTS).toContain(DEFAULT_DEPTHWISE_VARIANT);
  });

  it('the filter gradient takes the subgroup form where it is faster, and when asked for', () => {
    const form = (stride: 1 | 2, outW: number, depthwiseVariant?: (typeof DEPTHWISE_VARIANTS)[number]) =>
      depthwiseFilterForm(e, { stride, padding: 'same', depthwiseVariant }, outW);
    if (!hasSubgroups8(e)) {
      // (SwiftShader: no 8-lane subgroups, every variant falls back to the register-blocked form)
      for (const v of [undefined, ...DEPTHWISE_VARIANTS]) expect(form(1, 80, v)).toBe('blocked');
      return;
    }
    expect(DEFAULT_DEPTHWISE_VARIANT).toBe('subgroup');
    expect([form(1, 80), form(1, 12), form(1, 10), form(2, 56), form(2, 7)]).toEqual(['subgroup', 'subgroup', 'blocked', 'blocked', 'blocked']);
    expect([form(1, 5, 'subgroup'), form(2, 5, 'subgroup')]).toEqual(['subgroup', 'subgroup']);
    for (const v of ['run', 'strip', 'strip-vec4'] as const) expect(form(1, 80, v)).toBe('blocked');
  });

  // Every variant on every case, not only the default (the forward and dx kernels differ per variant).
  for (const c of CASES) for (const variant of DEPTHWISE_VARIANTS) {
    const k = c.k ?? 3;
    it(`${variant}: k${k} x=[${c.x}] s${c.stride} ${c.padding}${c.ep ? ` +${c.ep}` : ''}: forward, dx, dw`, async () => {
      const o = { stride: c.stride, padding: c.padding, depthwiseVariant: variant };
      const C = c.x[3];
      const x = randArray(prod(c.x), 21);
      const w = randArray(k * k * C, 22);
      // ReLU6 clamps at both ends with these (clamping is 1-Lipschitz: no kink sensitivity).
      const scale = c.ep === 'scale-shift+relu6' ? randArray(C, 23, 2, 6) : undefined;
      const shift = c.ep ? randArray(C, 24, -1, 3) : undefined;
      const ref = depthwiseConv2dRef(x, c.x, w, k, o, { scale, shift, relu6: c.ep === 'scale-shift+relu6' });
      const dy = randomDy(ref.y.length, 25);

      const xt = e.upload(f32(x), c.x);
      const wt = e.upload(f32(w), [k, k, C]);
      const epilogue = c.ep
        ? { scale: scale && e.upload(f32(scale), [C]), shift: e.upload(f32(shift!), [C]), relu6: c.ep === 'scale-shift+relu6' }
        : undefined;
      const y = depthwiseConv2d(e, xt, wt, { ...o, epilogue });
      expect(y.shape).toEqual(ref.shape);
      const dyt = e.upload(f32(dy), ref.shape);
      const dx = depthwiseConv2dBackwardInput(e, dyt, wt, c.x, o);
      const dw = depthwiseConv2dBackwardFilter(e, xt, dyt, { ...o, kernelSize: k });
      expect(dw.shape).toEqual([k, k, C]);
      expectClose(await y.read(), ref.y, { what: 'y' });
      expectClose(await dx.read(), depthwiseConv2dBackwardInputRef(dy, w, k, c.x, o), { what: 'dx' });
      expectClose(await dw.read(), depthwiseConv2dBackwardFilterRef(x, c.x, dy, k, o), { what: 'dw' });
      for (const t of [xt, wt, y, dyt, dx, dw, epilogue?.scale, epilogue?.shift]) t?.dispose();
    });
  }

  // inputBn: x is a BatchNorm's raw input, the op convolves relu6((x - mean)·scale + beta). The
  // subgroup and strip kernels and the register-blocked filter gradient apply it as they load (one
  // dispatch, x's BatchNorm output never stored); the 'run' forward materializes it first (two).
  for (const c of [
    { x: [2, 11, 19, 8], stride: 1, padding: 'same' },
    { x: [1, 23, 21, 12], stride: 2, padding: 'same' },
    { x: [2, 9, 17, 6], stride: 1, padding: 'symmetric' },
    { x: [1, 10, 9, 3], stride: 2, padding: 'symmetric' },
  ] as { x: number[]; stride: 1 | 2; padding: PaddingMode }[]) {
    for (const variant of DEPTHWISE_VARIANTS) {
      it(`${variant}: inputBn x=[${c.x}] s${c.stride} ${c.padding}: forward and dw convolve relu6(BN(x)), fused but in the 'run' forward`, async () => {
        const C = c.x[3];
        const z = randArray(prod(c.x), 31, -3, 3);
        const [mean, scale, beta] = [randArray(C, 32, -1, 1), randArray(C, 33, 0.5, 2.5), randArray(C, 34, -1, 4)];
        // (these put outputs on both sides of both ReLU6 clamps)
        const xin = z.map((v, i) => Math.min(6, Math.max(0, (v - mean[i % C]) * scale[i % C] + beta[i % C])));
        const w = randArray(9 * C, 35);
        const o = { stride: c.stride, padding: c.padding, depthwiseVariant: variant };
        const ref = depthwiseConv2dRef(xin, c.x, w, 3, o);
        const dy = randomDy(ref.y.length, 36);
        const up = (a: Float64Array, shape: number[]) => e.upload(f32(a), shape);
        const [zt, wt, dyt] = [up(z, c.x), up(w, [3, 3, C]), up(dy, ref.shape)];
        const inputBn = { mean: up(mean, [C]), scale: up(scale, [C]), beta: up(beta, [C]) };
        const d0 = e.dispatchCount;
        const y = depthwiseConv2d(e, zt, wt, { ...o, inputBn });
        expect(e.dispatchCount - d0).toBe(variant === 'run' ? 2 : 1);
        const d1 = e.dispatchCount;
        const dw = depthwiseConv2dBackwardFilter(e, zt, dyt, { ...o, inputBn });
        const parts = depthwiseFilterForm(e, o, ref.shape[2]) === 'subgroup' ? 'subgroup' : 'blocked';
        // (one dispatch, plus the reduce of its partial filters when it splits the rows)
        expect(e.dispatchCount - d1, `filter gradient (${parts} form): no BatchNorm pass`).toBeLessThanOrEqual(2);
        expectClose(await y.read(), ref.y, { what: 'y' });
        expectClose(await dw.read(), depthwiseConv2dBackwardFilterRef(xin, c.x, dy, 3, o), { what: 'dw' });
        for (const t of [zt, wt, dyt, y, dw, ...Object.values(inputBn)]) t.dispose();
      });
    }
  }

  it('bad shapes throw ShapeErrors naming the op', () => {
    const x = e.upload(new Float32Array(1 * 5 * 5 * 8), [1, 5, 5, 8]);
    const w = e.upload(new Float32Array(3 * 3 * 8), [3, 3, 8]);
    const o = { stride: 1, padding: 'same' } as const;
    expect(() => depthwiseConv2d(e, x.reshape([5, 5, 8]), w, o)).toThrow(/depthwiseConv2d: .*rank 4/);
    expect(() => depthwiseConv2d(e, x, w.reshape([3, 3, 8, 1]), o)).toThrow(/depthwiseConv2d: .*rank 3/);
    expect(() => depthwiseConv2d(e, x, e.upload(new Float32Array(3 * 3 * 4), [3, 3, 4]), o)).toThrow(/depthwiseConv2d: .*channels/);
    expect(() => depthwiseConv2d(e, x, w.reshape([1, 9, 8]), o)).toThrow(/depthwiseConv2d: .*square/);
    expect(() => depthwiseConv2d(e, x, w, { stride: 3 as 2, padding: 'same' })).toThrow(/depthwiseConv2d: stride/);
    expect(() => depthwiseConv2d(e, x, w, { ...o, epilogue: { scale: e.upload(new Float32Array(8), [8]) } })).toThrow(/depthwiseConv2d: epilogue/);
    const dyBad = e.upload(new Float32Array(1 * 3 * 3 * 8), [1, 3, 3, 8]);
    expect(() => depthwiseConv2dBackwardInput(e, dyBad, w, [1, 5, 5, 8], o)).toThrow(/depthwiseConv2dBackwardInput: dy must be \[1,5,5,8\]/);
    expect(() => depthwiseConv2dBackwardInput(e, dyBad, w, [1, 5, 5, 4], { stride: 2, padding: 'same' })).toThrow(/depthwiseConv2dBackwardInput: .*channels/);
    expect(() => depthwiseConv2dBackwardFilter(e, x, dyBad, o)).toThrow(/depthwiseConv2dBackwardFilter: dy must be/);
    expect(() => depthwiseConv2dBackwardFilter(e, x, dyBad, { ...o, kernelSize: 9 })).toThrow(/depthwiseConv2dBackwardFilter: kernel size/);
  });
});
