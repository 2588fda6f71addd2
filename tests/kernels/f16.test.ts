// f16 storage (`--precision f16`): every kernel of MobileNetV2's forward (and the backward kernels
// that read saved f16 activations) run with f16 tensors against the f64 references.
//
// Tolerance: the reference gets the same f16-rounded inputs the GPU holds, so the only differences are
// f32 accumulation (~1e-6 relative) and ONE rounding of each f16 output (at most 2^-11 = 4.9e-4 of
// |y|): |gpu - ref| <= 1e-3·|ref| + 1e-4 (inputs are O(1), sums of at most ~300 terms). f32 outputs
// (gradients, logits) from f16 inputs: the f32 tolerance of the other kernel tests, 1e-4·|ref| + 1e-4.
// An adapter without 'shader-f16' (SwiftShader) must refuse f16 with an error naming the feature.
import { describe, it, expect } from 'vitest';
import {
  add,
  cast,
  batchNormInference,
  batchNormInferenceBackward,
  batchNormTraining,
  batchNormTrainingBackward,
  conv2d,
  conv2dBackwardFilter,
  dense,
  denseBackward,
  depthwiseConv2d,
  depthwiseConv2dBackwardFilter,
  DEPTHWISE_VARIANTS,
  floatToHalfBits,
  halfBitsToFloat,
  globalAvgPool,
  globalMaxPool,
  pointwiseConv2d,
  pointwiseConv2dBackwardFilter,
  relu6,
  relu6Backward,
  matmul,
  type Engine,
  type Tensor,
} from '@mnv2/core';
import type { MatmulTile } from '@mnv2/kernels';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { randomDy } from '../helpers/gradcheck.js';
import { halfRef, roundHalfRef, HALF_MAX } from '../reference/half.js';
import { conv2dRef, conv2dBackwardFilterRef } from '../reference/conv2d.js';
import { depthwiseConv2dRef, depthwiseConv2dBackwardFilterRef } from '../reference/depthwise-conv2d.js';
import { denseRef, denseBackwardRef, matmulRef, pointwiseConv2dRef, pointwiseConv2dBackwardFilterRef } from '../reference/matmul.js';
import { addRef, globalAvgPoolRef, globalMaxPoolRef } from '../reference/elementwise.js';
import { bnInferenceRef, bnInferenceBackwardRef, bnTrainingRef, bnTrainingBackwardRef } from '../reference/batchnorm.js';
import { relu6Ref, relu6BackwardRef } from '../reference/relu6.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** f16 outputs: one rounding to f16 beyond the f32 arithmetic. */
const HALF_TOL = { rtol: 1e-3, atol: 1e-4 };
/** f32 outputs computed from f16 inputs. */
const F32_TOL = { rtol: 1e-4, atol: 1e-4 };

describe('f16 host conversion', () => {
  it('rounds like the f64 reference (nearest, ties to even, subnormals, overflow) and widens exactly', () => {
    const vals = [0, -0, 1, -1, 1 / 3, 0.1, 65504, 65519, 65520, 1e6, -1e6, 2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 6, 5.999, ...randArray(2000, 5, -8, 8), ...randArray(200, 6, -1e-4, 1e-4)];
    for (const v of vals) {
      const h = halfBitsToFloat(floatToHalfBits(v));
      expect(Object.is(h, roundHalfRef(Math.fround(v))) || h === roundHalfRef(Math.fround(v)), `${v} -> ${h}, reference ${roundHalfRef(v)}`).toBe(true);
    }
    expect(roundHalfRef(65520)).toBe(Infinity);
    expect(roundHalfRef(HALF_MAX)).toBe(HALF_MAX);
  });
});

const e = await gpuEngine();

if (!e.hasF16) {
  describe(`${GPU} f16 refused without shader-f16`, () => {
    it('an f16 tensor and an f16 network name the adapter and the feature', async () => {
      expect(() => e.upload(new Float32Array(4), [4], 'f16')).toThrow(/shader-f16.*adapter '[^']+'/);
      const { createNodeEngine } = await import('../../packages/cli/src/node-gpu.js');
      await expect(createNodeEngine({ precision: 'f16' })).rejects.toThrow(/--precision f16 needs the WebGPU feature 'shader-f16', which the adapter '[^']*swiftshader[^']*' does not offer/i);
    });
  });
} else {
  describe(`${GPU} f16 storage`, () => {
    const up16 = (x: ArrayLike<number>, shape: readonly number[]) => e.upload(f32(x), shape, 'f16');
    const up32 = (x: ArrayLike<number>, shape: readonly number[]) => e.upload(f32(x), shape);
    const read = async (t: Tensor, dtype: 'f16' | 'f32') => {
      expect(t.dtype).toBe(dtype);
      return t.read();
    };

    it('upload and read round-trip through f16 (odd length)', async () => {
      const x = randArray(7, 1, -100, 100);
      const t = up16(x, [7]);
      expect(t.bytes).toBe(14);
      expectClose(await t.read(), halfRef(x), { rtol: 0, atol: 0, what: 'x' });
    });

    for (const n of [6, 7, 1000]) {
      it(`cast f32 -> f16 rounds like the reference, f16 -> f32 is exact (n=${n})`, async () => {
        const x = randArray(n, n, -60000, 60000);
        x[0] = 1e-6; // subnormal in f16
        const h = cast(e, up32(x, [n]), 'f16');
        expectClose(await read(h, 'f16'), halfRef(x), { rtol: 0, atol: 0, what: 'f16' });
        const back = cast(e, h, 'f32');
        expectClose(await read(back, 'f32'), halfRef(x), { rtol: 0, atol: 0, what: 'f32' });
        expect(cast(e, back, 'f32')).toBe(back);
      });
    }

    it('cast f32 -> f16 overflows to ±Infinity past 65504 (65519 rounds down)', async () => {
      const v = await cast(e, up32([70000, -70000, 65519, -65520], [4]), 'f16').read();
      expect([...v]).toEqual([Infinity, -Infinity, 65504, -Infinity]);
    });

    for (const c of [
      { x: [2, 9, 7, 3], k: 3, cout: 8, stride: 2 as const }, // the stem's form (Cin 3), vec4 Cout
      { x: [1, 6, 5, 4], k: 3, cout: 5, stride: 1 as const }, // scalar Cout
    ]) {
      it(`conv2d x=[${c.x}] s${c.stride} cout ${c.cout} +BN+ReLU6: f16 y; dw from f16 x`, async () => {
        const o = { stride: c.stride, padding: 'same' as const };
        const x = halfRef(randArray(prod(c.x), 11));
        const w = randArray(c.k * c.k * c.x[3] * c.cout, 12);
        const scale = randArray(c.cout, 13, 1, 3);
        const shift = randArray(c.cout, 14, -1, 2);
        const ref = conv2dRef(x, c.x, w, c.k, c.cout, o, { scale, shift, relu6: true });
        const xt = up16(x, c.x);
        const y = conv2d(e, xt, up32(w, [c.k, c.k, c.x[3], c.cout]), { ...o, epilogue: { scale: up32(scale, [c.cout]), shift: up32(shift, [c.cout]), relu6: true } });
        expectClose(await read(y, 'f16'), ref.y, { ...HALF_TOL, what: 'y' });
        const dy = randomDy(ref.y.length, 15);
        const dw = conv2dBackwardFilter(e, xt, up32(dy, ref.shape), { ...o, kernelSize: c.k });
        expectClose(await read(dw, 'f32'), conv2dBackwardFilterRef(x, c.x, dy, c.k, c.cout, o), { ...F32_TOL, what: 'dw' });
      });
    }

    it('conv2d from an f32 input writes f16 when asked (the network input stays f32)', async () => {
      const shape = [1, 7, 7, 3];
      const x = randArray(prod(shape), 16);
      const w = randArray(9 * 3 * 8, 17);
      const y = conv2d(e, up32(x, shape), up32(w, [3, 3, 3, 8]), { stride: 2, padding: 'same', dtype: 'f16' });
      expectClose(await read(y, 'f16'), conv2dRef(x, shape, w, 3, 8, { stride: 2, padding: 'same' }).y, { ...HALF_TOL, what: 'y' });
    });

    for (const variant of DEPTHWISE_VARIANTS) {
      for (const c of [
        { x: [2, 9, 9, 8], stride: 1 as const },
        { x: [1, 11, 10, 12], stride: 2 as const },
        { x: [1, 7, 6, 5], stride: 1 as const }, // scalar channels
      ]) {
        it(`depthwise ${variant} x=[${c.x}] s${c.stride} +BN+ReLU6: f16 y; dw from f16 x`, async () => {
          const o = { stride: c.stride, padding: 'same' as const, depthwiseVariant: variant };
          const C = c.x[3];
          const x = halfRef(randArray(prod(c.x), 21));
          const w = randArray(9 * C, 22);
          const scale = randArray(C, 23, 1, 3);
          const shift = randArray(C, 24, -1, 2);
          const ref = depthwiseConv2dRef(x, c.x, w, 3, o, { scale, shift, relu6: true });
          const xt = up16(x, c.x);
          const y = depthwiseConv2d(e, xt, up32(w, [3, 3, C]), { ...o, epilogue: { scale: up32(scale, [C]), shift: up32(shift, [C]), relu6: true } });
          expectClose(await read(y, 'f16'), ref.y, { ...HALF_TOL, what: 'y' });
          const dy = randomDy(ref.y.length, 25);
          const dw = depthwiseConv2dBackwardFilter(e, xt, up32(dy, ref.shape), { ...o, kernelSize: 3 });
          expectClose(await read(dw, 'f32'), depthwiseConv2dBackwardFilterRef(x, c.x, dy, 3, o), { ...F32_TOL, what: 'dw' });
        });
      }
    }

    // Pointwise: the default tile, the plain register-blocked tile and (where the adapter has 8-lane
    // subgroups) the shared-load forms; odd Cin takes the scalar-k path.
    const tiles: (Partial<MatmulTile> | undefined)[] = [undefined, { bm: 4, bn: 8, map: 'n-fast', share: 'none' }, { bm: 2, bn: 4, map: 'm-fast', share: 'none' }];
    for (const tile of tiles) {
      for (const [P, cin, cout] of [
        [37, 16, 24],
        [50, 3, 8],
        [29, 12, 10],
      ]) {
        it(`pointwise ${tile ? `${tile.bm}x${tile.bn}` : 'default'} P=${P} ${cin}->${cout} +BN+ReLU6: f16 y; dw from f16 x`, async () => {
          const x = halfRef(randArray(P * cin, 31));
          const w = randArray(cin * cout, 32);
          const scale = randArray(cout, 33, 1, 3);
          const shift = randArray(cout, 34, -1, 2);
          const ref = pointwiseConv2dRef(x, w, P, cin, cout, { scale, shift, relu6: true });
          const xt = up16(x, [1, 1, P, cin]);
          const variant = tile ? { tile: tile as MatmulTile, splitK: 1 } : undefined;
          const y = pointwiseConv2d(e, xt, up32(w, [cin, cout]), { epilogue: { scale: up32(scale, [cout]), shift: up32(shift, [cout]), relu6: true }, variant });
          expectClose(await read(y, 'f16'), ref, { ...HALF_TOL, what: 'y' });
          const dy = randomDy(P * cout, 35);
          const dw = pointwiseConv2dBackwardFilter(e, xt, up32(dy, [1, 1, P, cout]));
          expectClose(await read(dw, 'f32'), pointwiseConv2dBackwardFilterRef(x, dy, P, cin, cout), { ...F32_TOL, what: 'dw' });
        });
      }
    }

    it('matmul with an f16 A, split-K into f16 (partials f32)', async () => {
      const [M, K, N] = [9, 4096, 8];
      const a = halfRef(randArray(M * K, 36));
      const b = randArray(K * N, 37);
      const c = matmul(e, up16(a, [M, K]), up32(b, [K, N]), { variant: { splitK: 8 } });
      expect(c.dtype).toBe('f32'); // matmul's output defaults to f32
      expectClose(await c.read(), matmulRef(a, b, M, K, N), { ...F32_TOL, atol: 1e-3, what: 'c' });
    });

    it('dense: f16 features in, f32 logits out; hidden Dense(relu) f16; backward from f16 x and y', async () => {
      const [B, In, H, Out] = [3, 20, 12, 7];
      const x = halfRef(randArray(B * In, 41));
      const w1 = randArray(In * H, 42);
      const b1 = randArray(H, 43);
      const w2 = randArray(H * Out, 44);
      const b2 = randArray(Out, 45);
      const xt = up16(x, [B, In]);
      const h = dense(e, xt, up32(w1, [In, H]), up32(b1, [H]), { relu: true });
      const hRef = denseRef(x, w1, b1, B, In, H, true);
      expectClose(await read(h, 'f16'), hRef, { ...HALF_TOL, what: 'hidden' });
      const logits = dense(e, h, up32(w2, [H, Out]), up32(b2, [Out]), { dtype: 'f32' });
      expectClose(await read(logits, 'f32'), denseRef(halfRef(hRef), w2, b2, B, H, Out), { ...F32_TOL, what: 'logits' });
      const dy = randomDy(B * H, 46);
      const g = denseBackward(e, xt, up32(w1, [In, H]), up32(dy, [B, H]), { y: h, relu: true });
      const gRef = denseBackwardRef(x, w1, halfRef(hRef), dy, B, In, H, true);
      expectClose(await read(g.dw, 'f32'), gRef.w, { ...F32_TOL, what: 'dw' });
      expectClose(await read(g.db, 'f32'), gRef.b, { ...F32_TOL, what: 'db' });
      expectClose(await read(g.dx, 'f32'), gRef.x, { ...F32_TOL, what: 'dx' });
    });

    for (const shape of [
      [2, 5, 3, 8],
      [1, 31, 33, 12], // split into parts (partials f32)
      [2, 3, 3, 5],
    ]) {
      it(`residual add, global avg/max pool, ReLU6 x=[${shape}]`, async () => {
        const n = prod(shape);
        const a = halfRef(randArray(n, 51, -7, 7));
        const b = halfRef(randArray(n, 52, -7, 7));
        const at = up16(a, shape);
        expectClose(await read(add(e, at, up16(b, shape)), 'f16'), addRef(a, b), { ...HALF_TOL, what: 'add' });
        expectClose(await read(globalAvgPool(e, at), 'f16'), globalAvgPoolRef(a, shape), { ...HALF_TOL, what: 'avg' });
        expectClose(await read(globalMaxPool(e, at), 'f16'), globalMaxPoolRef(a, shape), { ...HALF_TOL, what: 'max' });
        const y = relu6(e, at);
        const yRef = relu6Ref(a);
        expectClose(await read(y, 'f16'), yRef, { ...HALF_TOL, what: 'relu6' });
        const dy = randomDy(n, 53);
        expectClose(await read(relu6Backward(e, y, up32(dy, shape)), 'f32'), relu6BackwardRef(yRef, dy), { ...F32_TOL, what: 'relu6 dx' });
      });
    }

    for (const [shape, training] of [
      [[2, 5, 7, 8], false],
      [[2, 5, 7, 8], true],
      [[3, 4, 5, 6], true], // scalar channels
    ] as [number[], boolean][]) {
      it(`BatchNorm ${training ? 'training' : 'inference'} x=[${shape}] +ReLU6: f16 y, f32 statistics and gradients`, async () => {
        const C = shape[3];
        const n = prod(shape);
        const x = halfRef(randArray(n, 61, -2, 3));
        const gamma = randArray(C, 62, 0.5, 1.5);
        const beta = randArray(C, 63, -0.5, 0.5);
        const mean = randArray(C, 64, -0.2, 0.2);
        const variance = randArray(C, 65, 0.5, 1.5);
        const p = { gamma: up32(gamma, [C]), beta: up32(beta, [C]), movingMean: up32(mean, [C]), movingVariance: up32(variance, [C]), epsilon: 1e-3, momentum: 0.9 };
        const xt = up16(x, shape);
        const dy = randomDy(n, 66);
        const dyt = up32(dy, shape);
        if (!training) {
          const y = batchNormInference(e, xt, p, { relu6: true });
          const yRef = bnInferenceRef(x, C, { gamma, beta, mean, variance, eps: 1e-3 }, true);
          expectClose(await read(y, 'f16'), yRef, { ...HALF_TOL, what: 'y' });
          const g = batchNormInferenceBackward(e, xt, y, dyt, p, { relu6: true });
          const gRef = bnInferenceBackwardRef(x, halfRef(yRef), dy, C, { gamma, beta, mean, variance, eps: 1e-3 }, true);
          expectClose(await read(g.dx, 'f32'), gRef.dx, { ...F32_TOL, what: 'dx' });
          expectClose(await read(g.dgamma, 'f32'), gRef.dgamma, { ...F32_TOL, what: 'dgamma' });
        } else {
          const r = batchNormTraining(e, xt, p, { relu6: true });
          const ref = bnTrainingRef(x, C, gamma, beta, mean, variance, 1e-3, 0.9, true);
          expectClose(await read(r.y, 'f16'), ref.y, { ...HALF_TOL, atol: 1e-3, what: 'y' });
          expectClose(await read(r.mean, 'f32'), ref.mean, { ...F32_TOL, what: 'mean' });
          const g = batchNormTrainingBackward(e, xt, r.y, dyt, { mean: r.mean, invStd: r.invStd }, p, { relu6: true });
          const gRef = bnTrainingBackwardRef(x, halfRef(ref.y), dy, C, ref.mean, ref.invStd, gamma, true);
          expectClose(await read(g.dx, 'f32'), gRef.dx, { ...F32_TOL, atol: 1e-3, what: 'dx' });
          expectClose(await read(g.dgamma, 'f32'), gRef.dgamma, { ...F32_TOL, atol: 1e-3, what: 'dgamma' });
          expectClose(await read(g.dbeta, 'f32'), gRef.dbeta, { ...F32_TOL, atol: 1e-3, what: 'dbeta' });
        }
      });
    }

    // The two-pass training backward recomputes the ReLU6 mask from x for an f32 y; with y stored as f16
    // the mask y gives is that of f16(pre): pre just below 6 is stored as 6 (masked). Here beta places
    // one element per channel at pre = 6 − 2⁻¹¹ (f16 rounds it to 6; its f32 mask would be 1), so a mask
    // taken from the f32 pre (or from pre rounded to f16 in registers: tried, lavapipe does not round
    // it like the store) differs from y's there by gamma·invStd·dy in dx.
    for (const shape of [
      [2, 5, 7, 8],
      [3, 4, 5, 6], // scalar channels
    ]) {
      it(`BatchNorm training backward x=[${shape}], f16 y rounded up to 6: every variant masks like y`, async () => {
        const C = shape[3];
        const n = prod(shape);
        const x = halfRef(randArray(n, 81, -2, 3));
        const gamma = randArray(C, 82, 0.5, 1.5);
        const stats = { movingMean: up32(new Float64Array(C), [C]), movingVariance: up32(new Float64Array(C).fill(1), [C]) };
        const xt = up16(x, shape);
        const dy = randomDy(n, 83);
        const dyt = up32(dy, shape);
        // statistics depend on x only: a first forward gives them, then beta is chosen
        const first = batchNormTraining(e, xt, { gamma: up32(gamma, [C]), beta: up32(new Float64Array(C), [C]), ...stats }, { relu6: true });
        const mean = await first.mean.read();
        const invStd = await first.invStd.read();
        const probe = (c: number) => 2 * C + c; // row 2 of channel c
        const beta = Float64Array.from({ length: C }, (_, c) => {
          const sc = Math.fround(gamma[c] * invStd[c]);
          return Math.fround(6 - 2 ** -11 - Math.fround(Math.fround(x[probe(c)] - mean[c]) * sc));
        });
        const p = { gamma: up32(gamma, [C]), beta: up32(beta, [C]), ...stats };
        const r = batchNormTraining(e, xt, p, { relu6: true });
        expect(Array.from(await r.mean.read())).toEqual(Array.from(mean));
        expect(Array.from(await r.invStd.read())).toEqual(Array.from(invStd));
        const y = await read(r.y, 'f16');
        for (let c = 0; c < C; c++) {
          const pre = Math.fround(Math.fround(Math.fround(x[probe(c)] - mean[c]) * Math.fround(gamma[c] * invStd[c])) + beta[c]);
          expect(pre, 'pre-activation just below 6').toBeLessThan(6);
          expect(y[probe(c)], 'stored as 6 in f16').toBe(6);
        }
        const gRef = bnTrainingBackwardRef(x, Float64Array.from(y), dy, C, Float64Array.from(mean), Float64Array.from(invStd), gamma, true);
        for (const variant of ['auto', 'fold', 'finalize', 'three-pass'] as const) {
          const g = batchNormTrainingBackward(e, xt, r.y, dyt, r, p, { relu6: true, variant });
          expectClose(await read(g.dx, 'f32'), gRef.dx, { ...F32_TOL, atol: 1e-3, what: `${variant} dx` });
          expectClose(await read(g.dgamma, 'f32'), gRef.dgamma, { ...F32_TOL, atol: 1e-3, what: `${variant} dgamma` });
          expectClose(await read(g.dbeta, 'f32'), gRef.dbeta, { ...F32_TOL, atol: 1e-3, what: `${variant} dbeta` });
        }
      });
    }

    it('BatchNorm training backward with f32 x and f16 y (clipped at 0 and 6): every variant masks like y', async () => {
      const shape = [2, 3, 4, 8];
      const C = 8;
      const n = prod(shape);
      const x = randArray(n, 91, -2, 3);
      const gamma = randArray(C, 92, 2, 3);
      const beta = randArray(C, 93, 2, 3);
      const p = { gamma: up32(gamma, [C]), beta: up32(beta, [C]), movingMean: up32(new Float64Array(C), [C]), movingVariance: up32(new Float64Array(C).fill(1), [C]) };
      const xt = up32(x, shape);
      const r = batchNormTraining(e, xt, p, { relu6: true, dtype: 'f16' });
      const y = await read(r.y, 'f16');
      expect(y.some((v) => v === 6) && y.some((v) => v === 0)).toBe(true);
      const dy = randomDy(n, 94);
      const dyt = up32(dy, shape);
      const gRef = bnTrainingBackwardRef(x, Float64Array.from(y), dy, C, Float64Array.from(await r.mean.read()), Float64Array.from(await r.invStd.read()), gamma, true);
      for (const variant of ['auto', 'fold', 'finalize', 'three-pass'] as const) {
        const g = batchNormTrainingBackward(e, xt, r.y, dyt, r, p, { relu6: true, variant });
        expectClose(await read(g.dx, 'f32'), gRef.dx, { ...F32_TOL, atol: 1e-3, what: `${variant} dx` });
        expectClose(await read(g.dgamma, 'f32'), gRef.dgamma, { ...F32_TOL, atol: 1e-3, what: `${variant} dgamma` });
      }
    });
  });
}
