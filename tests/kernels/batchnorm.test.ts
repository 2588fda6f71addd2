import { describe, it, beforeAll, expect } from 'vitest';
import {
  foldBatchNorm,
  batchNormInference,
  batchNormInferenceBackward,
  batchNormTraining,
  batchNormTrainingBackward,
  batchNormTrainingStats,
  applyBatchNorm,
  type BatchNormParams,
  type BnBackwardVariant,
  type Engine,
  type Tensor,
} from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose, maxAbs } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import {
  bnFoldRef,
  bnInferenceRef,
  bnInferenceBackwardRef,
  bnTrainingRef,
  bnTrainingBackwardRef,
  type BnParamsRef,
} from '../reference/batchnorm.js';

const EPS = 1e-3;
/** Every path of batchNormTrainingBackward: the default plan, both two-pass forms, the former kernels. */
const BWD_VARIANTS: BnBackwardVariant[] = ['auto', 'fold', 'finalize', 'three-pass'];
const MOMENTUM = 0.999;

function params(channels: number, seed: number): BnParamsRef {
  return {
    gamma: randArray(channels, seed, 0.5, 1.5),
    beta: randArray(channels, seed + 1, -0.5, 0.5),
    mean: randArray(channels, seed + 2, 1, 3),
    variance: randArray(channels, seed + 3, 0.3, 2),
    eps: EPS,
  };
}

/** x around the moving mean (offset 2 so the statistics' shift trick matters), spread ~1. */
const input = (n: number, seed: number) => randArray(n, seed, 0.2, 3.8);

/** Smallest distance of an output to the ReLU6 kinks (gradchecks need it away from them). */
const kinkGap = (preActivation: ArrayLike<number>) => Math.min(...Array.from(preActivation, (v) => Math.min(Math.abs(v), Math.abs(v - 6))));

describe('batchnorm reference', () => {
  const channels = 3;
  const rows = 5;
  const p = params(channels, 11);
  // Outputs of some channels pushed past 6 or below 0 so the ReLU6 mask is exercised.
  p.gamma[1] = 6;
  p.beta[2] = -0.4;

  for (const relu6 of [false, true]) {
    it(`inference backward matches finite differences${relu6 ? ' (relu6)' : ''}`, () => {
      const x = input(rows * channels, 21);
      const f = (i: Record<string, Float64Array>) => bnInferenceRef(i.x, channels, { ...p, gamma: i.gamma, beta: i.beta }, relu6);
      const y = f({ x, gamma: p.gamma, beta: p.beta });
      if (relu6) expect(kinkGap(bnInferenceRef(x, channels, p, false))).toBeGreaterThan(1e-4);
      if (relu6) expect(y.some((v) => v === 0 || v === 6)).toBe(true);
      const dy = randomDy(y.length);
      const g = bnInferenceBackwardRef(x, y, dy, channels, p, relu6);
      gradcheck(f, { x, gamma: p.gamma, beta: p.beta }, { x: g.dx, gamma: g.dgamma, beta: g.dbeta }, dy);
    });

    it(`training backward (through batch mean and variance) matches finite differences${relu6 ? ' (relu6)' : ''}`, () => {
      const x = input(rows * channels, 22);
      const mm = new Float64Array(channels);
      const mv = new Float64Array(channels).fill(1);
      const f = (i: Record<string, Float64Array>) => bnTrainingRef(i.x, channels, i.gamma, i.beta, mm, mv, EPS, MOMENTUM, relu6).y;
      const fwd = bnTrainingRef(x, channels, p.gamma, p.beta, mm, mv, EPS, MOMENTUM, relu6);
      if (relu6) expect(kinkGap(bnTrainingRef(x, channels, p.gamma, p.beta, mm, mv, EPS, MOMENTUM, false).y)).toBeGreaterThan(1e-4);
      if (relu6) expect(fwd.y.some((v) => v === 0 || v === 6)).toBe(true);
      const dy = randomDy(fwd.y.length);
      const g = bnTrainingBackwardRef(x, fwd.y, dy, channels, fwd.mean, fwd.invStd, p.gamma, relu6);
      gradcheck(f, { x, gamma: p.gamma, beta: p.beta }, { x: g.dx, gamma: g.dgamma, beta: g.dbeta }, dy, { rtol: 1e-5, atol: 1e-6 });
    });
  }

  it('fold reproduces the inference formula', () => {
    const x = input(4 * channels, 23);
    const { scale, shift } = bnFoldRef(p);
    const y = bnInferenceRef(x, channels, p, false);
    expectClose(
      x.map((v, i) => v * scale[i % channels] + shift[i % channels]),
      y,
      { rtol: 1e-12, atol: 1e-12 },
    );
  });

  it('training statistics: biased variance and the Keras moving-average update', () => {
    const x = Float64Array.from([1, 10, 3, 20]); // 2 rows x 2 channels
    const r = bnTrainingRef(x, 2, Float64Array.of(1, 1), Float64Array.of(0, 0), Float64Array.of(0.5, 0), Float64Array.of(1, 2), EPS, 0.9, false);
    expectClose(r.mean, [2, 15], { rtol: 1e-12 });
    expectClose(r.variance, [1, 25], { rtol: 1e-12 }); // biased: Σ(x−μ)²/M
    expectClose(r.movingMean, [0.5 * 0.9 + 2 * 0.1, 15 * 0.1], { rtol: 1e-12 });
    expectClose(r.movingVariance, [0.9 + 0.1, 2 * 0.9 + 2.5], { rtol: 1e-12 });
  });
});

// Awkward shapes: channels 3/5 (scalar path) and 8/12 (vec4), batch 1 and 3, 1x1 spatial, odd sizes,
// row counts that split into several parts (split-plan) with a ragged last part.
const SHAPES: number[][] = [
  [1, 1, 1, 3],
  [3, 1, 1, 5],
  [1, 3, 5, 8],
  [3, 7, 5, 5],
  [2, 3, 3, 12],
  [3, 9, 7, 8],
  [2, 17, 19, 5],
  [3, 21, 23, 4],
  [7, 8],
];

describe(`${GPU} batchnorm`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  const up = (a: Float64Array, shape: readonly number[]) => e.upload(f32(a), shape);
  const gpuParams = (p: BnParamsRef, channels: number): BatchNormParams => ({
    gamma: up(p.gamma, [channels]),
    beta: up(p.beta, [channels]),
    movingMean: up(p.mean, [channels]),
    movingVariance: up(p.variance, [channels]),
  });
  const dispose = (...ts: Tensor[]) => ts.forEach((t) => t.dispose());

  SHAPES.forEach((shape, s) => {
    const channels = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const relu6 = s % 2 === 1;
    const tag = `[${shape}]${relu6 ? ' +relu6' : ''}`;

    it(`fold, inference forward and backward ${tag}`, async () => {
      const p = params(channels, 100 + s);
      const x = input(n, 200 + s);
      const dy = randomDy(n, 300 + s);
      const yRef = bnInferenceRef(x, channels, p, relu6).map(Math.fround);
      const gp = gpuParams(p, channels);
      const xt = up(x, shape);
      const dyt = up(dy, shape);
      const yIn = up(yRef, shape); // the mask comes from the same f32 y on both sides
      const { scale, shift } = foldBatchNorm(e, gp);
      const y = batchNormInference(e, xt, gp, { relu6 });
      const g = batchNormInferenceBackward(e, xt, yIn, dyt, gp, { relu6 });
      const fold = bnFoldRef(p);
      expectClose(await scale.read(), fold.scale, { what: 'scale' });
      expectClose(await shift.read(), fold.shift, { atol: 1e-5, what: 'shift' });
      expectClose(await y.read(), yRef, { atol: 1e-5, what: 'y' });
      const gRef = bnInferenceBackwardRef(x, yRef, dy, channels, p, relu6);
      expectClose(await g.dx.read(), gRef.dx, { what: 'dx' });
      expectClose(await g.dgamma.read(), gRef.dgamma, { atol: 1e-5 * Math.max(1, maxAbs(gRef.dgamma)), what: 'dgamma' });
      expectClose(await g.dbeta.read(), gRef.dbeta, { atol: 1e-5 * Math.max(1, maxAbs(gRef.dbeta)), what: 'dbeta' });
      dispose(scale, shift, y, g.dx, g.dgamma, g.dbeta, xt, dyt, yIn, gp.gamma, gp.beta, gp.movingMean, gp.movingVariance);
    });

    it(`training forward (moving stats updated) and backward ${tag}`, async () => {
      const p = params(channels, 400 + s);
      const x = input(n, 500 + s);
      const dy = randomDy(n, 600 + s);
      const gp = { ...gpuParams(p, channels), momentum: 0.9 }; // a non-default momentum so the update is visible
      const xt = up(x, shape);
      const dyt = up(dy, shape);
      const fwd = batchNormTraining(e, xt, gp, { relu6 });
      const ref = bnTrainingRef(x, channels, p.gamma, p.beta, p.mean, p.variance, EPS, 0.9, relu6);
      const y32 = await fwd.y.read();
      expectClose(y32, ref.y, { rtol: 1e-4, atol: 1e-4, what: 'y' });
      expectClose(await fwd.mean.read(), ref.mean, { rtol: 1e-5, atol: 1e-5, what: 'mean' });
      expectClose(await fwd.invStd.read(), ref.invStd, { rtol: 1e-4, what: 'invStd' });
      expectClose(await gp.movingMean.read(), ref.movingMean, { rtol: 1e-5, atol: 1e-5, what: 'movingMean' });
      expectClose(await gp.movingVariance.read(), ref.movingVariance, { rtol: 1e-4, atol: 1e-5, what: 'movingVariance' });

      // Backward from the GPU's saved statistics and output (the reference's mask is read from the
      // GPU's y; the two-pass variants recompute it from x: it must agree), every variant.
      const mean = Float64Array.from(await fwd.mean.read());
      const invStd = Float64Array.from(await fwd.invStd.read());
      const yF = Float64Array.from(y32);
      const gRef = bnTrainingBackwardRef(x, yF, dy, channels, mean, invStd, p.gamma, relu6);
      for (const variant of BWD_VARIANTS) {
        const g = batchNormTrainingBackward(e, xt, fwd.y, dyt, fwd, gp, { relu6, variant });
        expectClose(await g.dx.read(), gRef.dx, { rtol: 1e-3, atol: 1e-4 * Math.max(1, maxAbs(gRef.dx)), what: `${variant} dx` });
        expectClose(await g.dgamma.read(), gRef.dgamma, { rtol: 1e-4, atol: 1e-4 * Math.max(1, maxAbs(gRef.dgamma)), what: `${variant} dgamma` });
        expectClose(await g.dbeta.read(), gRef.dbeta, { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(gRef.dbeta)), what: `${variant} dbeta` });
        dispose(g.dx, g.dgamma, g.dbeta);
      }
      dispose(fwd.y, fwd.mean, fwd.invStd, xt, dyt, gp.gamma, gp.beta, gp.movingMean, gp.movingVariance);
    });
  });

  /**
   * A BN whose outputs are clipped at 0 AND at 6 in large shares (gamma ~3.5, beta 2.5): where a
   * recomputed ReLU6 mask must agree with y's element for element. `expectClipped(y)` checks the shares.
   */
  const clippedCase = (shape: number[], seed: number) => {
    const channels = shape[3];
    const n = shape.reduce((a, b) => a * b, 1);
    const p = params(channels, seed);
    p.gamma = randArray(channels, seed + 1, 3, 4);
    p.beta = randArray(channels, seed + 2, 2, 3);
    const x = input(n, seed + 3);
    const dy = randomDy(n, seed + 4);
    const gp = gpuParams(p, channels);
    const expectClipped = (y32: Float32Array) => {
      const share = (v: number) => y32.filter((a) => a === v).length / n;
      expect(share(0), 'outputs clipped at 0').toBeGreaterThan(0.05);
      expect(share(6), 'outputs clipped at 6').toBeGreaterThan(0.05);
    };
    return { channels, p, x, dy, gp, xt: up(x, shape), dyt: up(dy, shape), expectClipped };
  };

  // Inference mode recomputes the mask the same way from the moving statistics (y not read, may not
  // exist). Each dx element is dŷ·gamma·invStd on its own, so one element whose mask differs from the
  // GPU forward's y would show at full size.
  it('inference backward, outputs clipped at 0 and 6: the mask recomputed from x is the forward y\'s', async () => {
    const { channels, p, x, dy, gp, xt, dyt, expectClipped } = clippedCase([3, 11, 9, 12], 710);
    const y = batchNormInference(e, xt, gp, { relu6: true });
    const y32 = await y.read();
    expectClipped(y32);
    const gRef = bnInferenceBackwardRef(x, Float64Array.from(y32), dy, channels, p, true);
    for (const yArg of [null, y]) {
      // (an f32 y is not read either way: the kernel recomputes the mask)
      const g = batchNormInferenceBackward(e, xt, yArg, dyt, gp, { relu6: true });
      expectClose(await g.dx.read(), gRef.dx, { rtol: 1e-5, atol: 1e-6 * Math.max(1, maxAbs(gRef.dx)), what: 'dx' });
      expectClose(await g.dgamma.read(), gRef.dgamma, { rtol: 1e-4, atol: 1e-4 * Math.max(1, maxAbs(gRef.dgamma)), what: 'dgamma' });
      expectClose(await g.dbeta.read(), gRef.dbeta, { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(gRef.dbeta)), what: 'dbeta' });
      dispose(g.dx, g.dgamma, g.dbeta);
    }
    dispose(y, xt, dyt, gp.gamma, gp.beta, gp.movingMean, gp.movingVariance);
  });

  // The two-pass backward recomputes the ReLU6 mask as 0 < (x − mean)·(gamma·invStd) + beta < 6 instead
  // of reading 0 < y < 6: with gamma ~3.5 and beta 2.5 a large share of the outputs is clipped at 0 AND
  // at 6, and the mask must be y's element for element (dx differs by gamma·invStd·dy where it is not).
  for (const shape of [
    [4, 9, 7, 8],
    [3, 11, 5, 5],
    [4, 48, 48, 16], // rows x lanes above the plan's small-tensor bound: 'auto' finalizes
  ]) {
    it(`training backward, outputs clipped at 0 and 6: the recomputed mask is y's [${shape}]`, async () => {
      const { channels, p, x, dy, gp, xt, dyt, expectClipped } = clippedCase(shape, 700);
      const fwd = batchNormTraining(e, xt, gp, { relu6: true });
      const y32 = await fwd.y.read();
      expectClipped(y32);
      const mean = Float64Array.from(await fwd.mean.read());
      const invStd = Float64Array.from(await fwd.invStd.read());
      const gRef = bnTrainingBackwardRef(x, Float64Array.from(y32), dy, channels, mean, invStd, p.gamma, true);
      const old = batchNormTrainingBackward(e, xt, fwd.y, dyt, fwd, gp, { relu6: true, variant: 'three-pass' });
      const oldDx = await old.dx.read();
      for (const variant of BWD_VARIANTS) {
        // (y may be omitted when it was stored in x's dtype)
        const g = batchNormTrainingBackward(e, xt, variant === 'auto' ? null : fwd.y, dyt, fwd, gp, { relu6: true, variant });
        const dx = await g.dx.read();
        expectClose(dx, gRef.dx, { rtol: 1e-3, atol: 1e-4 * Math.max(1, maxAbs(gRef.dx)), what: `${variant} dx` });
        expectClose(await g.dgamma.read(), gRef.dgamma, { rtol: 1e-4, atol: 1e-4 * Math.max(1, maxAbs(gRef.dgamma)), what: `${variant} dgamma` });
        expectClose(await g.dbeta.read(), gRef.dbeta, { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(gRef.dbeta)), what: `${variant} dbeta` });
        // against the former kernels (mask read from y): equal but for the sums' rounding
        expectClose(dx, oldDx, { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(gRef.dx)), what: `${variant} dx vs three-pass` });
        dispose(g.dx, g.dgamma, g.dbeta);
      }
      dispose(old.dx, old.dgamma, old.dbeta, fwd.y, fwd.mean, fwd.invStd, xt, dyt, gp.gamma, gp.beta, gp.movingMean, gp.movingVariance);
    });
  }

  it('training backward dispatches: 2 when the plan folds the sums (small tensors), 3 when it finalizes, 3 for the former kernels', () => {
    const count = (shape: number[], variant?: BnBackwardVariant) => {
      const c = shape[shape.length - 1];
      const gp = gpuParams(params(c, 1), c);
      const x = e.upload(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      const fwd = batchNormTraining(e, x, gp, { relu6: true });
      const before = e.dispatchCount;
      const g = batchNormTrainingBackward(e, x, fwd.y, x, fwd, gp, { relu6: true, variant });
      const n = e.dispatchCount - before;
      dispose(g.dx, g.dgamma, g.dbeta, fwd.y, fwd.mean, fwd.invStd, x, gp.gamma, gp.beta, gp.movingMean, gp.movingVariance);
      return n;
    };
    expect(count([1, 7, 7, 96])).toBe(2);
    expect(count([4, 48, 48, 16])).toBe(3); // 9216 rows x 4 lanes: above the small-tensor bound
    expect(count([4, 48, 48, 16], 'fold')).toBe(2);
    expect(count([1, 7, 7, 96], 'finalize')).toBe(3);
    expect(count([1, 7, 7, 96], 'three-pass')).toBe(3);
  });

  // The pieces of a training forward used apart: the statistics alone (a depthwise conv applies them
  // as it loads), and the apply pass with a block's shortcut added (a projection unit's output).
  for (const shape of [[2, 5, 7, 8], [3, 4, 5, 6]]) {
    it(`training statistics alone, and the apply with relu6 or a residual [${shape}]`, async () => {
      const channels = shape[shape.length - 1];
      const n = shape.reduce((a, b) => a * b, 1);
      const p = params(channels, 700);
      const x = input(n, 701);
      const res = randArray(n, 702, -2, 2);
      const gp = gpuParams(p, channels);
      const xt = up(x, shape);
      const rt = up(res, shape);
      const st = batchNormTrainingStats(e, xt, gp);
      const ref = bnTrainingRef(x, channels, p.gamma, p.beta, p.mean, p.variance, EPS, MOMENTUM, false);
      expectClose(await st.mean.read(), ref.mean, { rtol: 1e-5, atol: 1e-5, what: 'mean' });
      expectClose(await st.invStd.read(), ref.invStd, { rtol: 1e-4, what: 'invStd' });
      expectClose(await gp.movingMean.read(), ref.movingMean, { rtol: 1e-5, atol: 1e-5, what: 'movingMean' });
      expectClose(await st.scale.read(), Array.from(ref.invStd, (v, c) => v * p.gamma[c]), { rtol: 1e-4, what: 'scale = gamma·invStd' });
      const bn = { mean: st.mean, scale: st.scale, beta: gp.beta };
      const y6 = applyBatchNorm(e, xt, bn, true);
      const yr = applyBatchNorm(e, xt, bn, false, 'f32', rt);
      const ref6 = bnTrainingRef(x, channels, p.gamma, p.beta, p.mean, p.variance, EPS, MOMENTUM, true);
      expectClose(await y6.read(), ref6.y, { rtol: 1e-4, atol: 1e-4, what: 'relu6 y' });
      expectClose(await yr.read(), Array.from(ref.y, (v, i) => v + res[i]), { rtol: 1e-4, atol: 1e-4, what: 'y + residual' });
      expect(() => applyBatchNorm(e, xt, bn, true, 'f32', rt)).toThrow(/applyBatchNorm: a residual is added after the BatchNorm, with no ReLU6/);
      expect(() => applyBatchNorm(e, xt, bn, false, 'f32', e.upload(new Float32Array(4), [4]))).toThrow(/applyBatchNorm: residual must have the shape of x/);
      dispose(xt, rt, st.mean, st.invStd, st.scale, y6, yr, gp.gamma, gp.beta, gp.movingMean, gp.movingVariance);
    });
  }

  it('default momentum 0.999 and epsilon 1e-3; statistics stay accurate with a large mean', async () => {
    const shape = [2, 6, 5, 8];
    const n = 2 * 6 * 5 * 8;
    const p = params(8, 900);
    // Large offset, small spread: E[x²] − E[x]² in f32 would lose all digits here.
    const x = randArray(n, 901, 999, 1001);
    const gp = gpuParams(p, 8);
    const xt = up(x, shape);
    const fwd = batchNormTraining(e, xt, gp);
    const ref = bnTrainingRef(x, 8, p.gamma, p.beta, p.mean, p.variance, 1e-3, 0.999, false);
    expectClose(await fwd.invStd.read(), ref.invStd, { rtol: 1e-4, what: 'invStd' });
    expectClose(await gp.movingVariance.read(), ref.movingVariance, { rtol: 1e-5, what: 'movingVariance' });
    expectClose(await gp.movingMean.read(), ref.movingMean, { rtol: 1e-6, what: 'movingMean' });
    expectClose(await fwd.y.read(), ref.y, { rtol: 1e-4, atol: 1e-4, what: 'y' });
  });

  it('rejects mismatched parameter and gradient shapes', () => {
    const x = e.upload(new Float32Array(2 * 5), [2, 5]);
    const p = gpuParams(params(4, 1), 4);
    expect(() => batchNormInference(e, x, p)).toThrow(/batchNormInference: gamma must hold one value per channel/);
    const p5 = gpuParams(params(5, 1), 5);
    const dy = e.upload(new Float32Array(10), [5, 2]);
    expect(() => batchNormInferenceBackward(e, x, x, dy, p5)).toThrow(/dy must have the shape of x/);
  });
});
