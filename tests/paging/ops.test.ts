// Tensors larger than one binding: every op MobileNetV2 training and inference use, run on an engine
// that pretends the adapter binds at most 4 KiB per buffer, must give what the same op gives
// unsplit (an engine with the real limit), and must actually have split (pages > 1). Shapes mix
// pages bound in place (aligned sample sizes) and pages copied to temporaries (a 400-byte sample
// never starts on a 256-byte boundary).
import { describe, it, beforeAll, expect } from 'vitest';
import {
  type Engine,
  type Tensor,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardFilter,
  depthwiseConv2d,
  depthwiseConv2dBackwardInput,
  depthwiseConv2dBackwardFilter,
  pointwiseConv2d,
  pointwiseConv2dBackwardInput,
  pointwiseConv2dBackwardFilter,
  batchNormInference,
  batchNormInferenceBackward,
  batchNormTraining,
  batchNormTrainingBackward,
  add,
  addInPlace,
  copyByKernel,
  DEPTHWISE_VARIANTS,
  relu6,
  relu6Backward,
  globalAvgPool,
  globalAvgPoolBackward,
  globalMaxPool,
  globalMaxPoolBackward,
  resizeImages,
  uploadImagesU8,
  augment,
  planPages,
  cast,
} from '@mnv2/core';
import { gpuEngine, gpuEngineWithBindingLimit, GPU } from '../helpers/gpu.js';
import { expectClose, maxAbs } from '../helpers/allclose.js';
import { randArray, f32 } from '../helpers/random.js';

const LIMIT = 4096;

describe(`${GPU} ops on tensors larger than the binding limit (forced to ${LIMIT} bytes)`, () => {
  let whole: Engine;
  let paged: Engine;
  beforeAll(async () => {
    whole = await gpuEngine();
    paged = await gpuEngineWithBindingLimit(LIMIT);
  });

  let seed = 100;
  /** The same random values uploaded to both engines. */
  const input = (shape: number[], lo = -1, hi = 1) => {
    const data = f32(randArray(shape.reduce((a, b) => a * b, 1), seed++, lo, hi));
    return (e: Engine) => e.upload(data, shape);
  };

  /** Runs `op` on both engines; outputs equal, and only the forced engine paged. */
  async function same(what: string, op: (e: Engine) => Tensor | Tensor[], tol = { rtol: 1e-5, atol: 1e-6 }): Promise<void> {
    const before = { ...paged.paging };
    const wholeBefore = whole.paging.pagedOps;
    const a = [op(whole)].flat();
    const b = [op(paged)].flat();
    expect(paged.paging.pagedOps - before.pagedOps, `${what}: paged ops`).toBeGreaterThan(0);
    expect(paged.paging.pages - before.pages, `${what}: pages`).toBeGreaterThan(1);
    expect(whole.paging.pagedOps, `${what}: the real limit needs no pages`).toBe(wholeBefore);
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) {
      expect(b[i].shape, `${what} output ${i} shape`).toEqual(a[i].shape);
      const [va, vb] = [await a[i].read(), await b[i].read()];
      expectClose(vb, va, { ...tol, atol: tol.atol * Math.max(1, maxAbs(va)), what: `${what} output ${i}` });
    }
    for (const t of [...a, ...b]) t.dispose();
  }

  it('plans pages of whole samples under the limit, aligned when cheap, and fails clearly when one sample does not fit', () => {
    const pages = planPages(paged, 'test', 10, [1024, 512]);
    expect(pages.map((p) => p.count)).toEqual([4, 4, 2]);
    expect(pages.map((p) => p.start)).toEqual([0, 4, 8]);
    expect(planPages(paged, 'test', 4, [1024])).toEqual([{ start: 0, count: 4 }]);
    expect(() => planPages(paged, 'conv2d', 2, [8192])).toThrow(/conv2d: one sample needs 0.01 MiB but this adapter binds at most 0.00 MiB|conv2d: one sample needs/);
  });

  it('conv2d forward (+BN epilogue), backward input and filter', async () => {
    const x = input([6, 9, 9, 3]);
    const w = input([3, 3, 3, 8]);
    const dy = input([6, 5, 5, 8]);
    const sc = input([8], 0.5, 1.5);
    const sh = input([8]);
    const opts = { stride: 2, padding: 'same' } as const;
    await same('conv2d', (e) => conv2d(e, x(e), w(e), { ...opts, epilogue: { scale: sc(e), shift: sh(e), relu6: true } }));
    await same('conv2dBackwardInput', (e) => conv2dBackwardInput(e, dy(e), w(e), [6, 9, 9, 3], opts));
    await same('conv2dBackwardFilter', (e) => conv2dBackwardFilter(e, x(e), dy(e), opts), { rtol: 1e-4, atol: 1e-5 });
  });

  it('depthwise forward, backward input and filter (aligned and copied pages)', async () => {
    for (const [shape, stride] of [
      [[6, 8, 8, 8], 1],
      [[12, 5, 5, 4], 2],
    ] as const) {
      const [N, H, W, C] = shape;
      const oh = Math.ceil(H / stride);
      const ow = Math.ceil(W / stride);
      const x = input([...shape]);
      const w = input([3, 3, C]);
      const dy = input([N, oh, ow, C]);
      const opts = { stride, padding: 'same' } as const;
      for (const depthwiseVariant of DEPTHWISE_VARIANTS) {
        await same(`depthwise ${depthwiseVariant} ${shape}`, (e) => depthwiseConv2d(e, x(e), w(e), { ...opts, depthwiseVariant }));
        await same(`depthwiseBackwardInput ${depthwiseVariant} ${shape}`, (e) => depthwiseConv2dBackwardInput(e, dy(e), w(e), [...shape], { ...opts, depthwiseVariant }));
      }
      await same(`depthwiseBackwardFilter ${shape}`, (e) => depthwiseConv2dBackwardFilter(e, x(e), dy(e), opts), { rtol: 1e-4, atol: 1e-5 });
    }
  });

  it('pointwise forward, backward input and filter', async () => {
    const x = input([6, 8, 8, 8]);
    const w = input([8, 12]);
    const dy = input([6, 8, 8, 12]);
    await same('pointwise', (e) => pointwiseConv2d(e, x(e), w(e)));
    await same('pointwiseBackwardInput', (e) => pointwiseConv2dBackwardInput(e, dy(e), w(e)));
    await same('pointwiseBackwardFilter', (e) => pointwiseConv2dBackwardFilter(e, x(e), dy(e)), { rtol: 1e-4, atol: 1e-5 });
  });

  it('BatchNorm inference and training (batch statistics and moving averages exact), with backwards', async () => {
    for (const shape of [
      [6, 8, 8, 8],
      [12, 5, 5, 4],
      [24, 4, 4, 3],
    ]) {
      const C = shape[3];
      const x = input(shape, 2, 5); // a mean far from 0 (the shifted sums matter)
      const dy = input(shape);
      const gamma = input([C], 0.5, 1.5);
      const beta = input([C]);
      const mm = input([C]);
      const mv = input([C], 0.5, 2);
      const params = (e: Engine) => ({ gamma: gamma(e), beta: beta(e), movingMean: mm(e), movingVariance: mv(e) });
      await same(`bnInference ${shape}`, (e) => batchNormInference(e, x(e), params(e), { relu6: true }));
      await same(`bnInferenceBackward ${shape}`, (e) => {
        const p = params(e);
        const xs = x(e);
        const y = batchNormInference(e, xs, p, { relu6: true });
        const r = batchNormInferenceBackward(e, xs, y, dy(e), p, { relu6: true });
        return [r.dx, r.dgamma, r.dbeta];
      }, { rtol: 1e-4, atol: 1e-5 });
      await same(`bnTraining ${shape}`, (e) => {
        const p = params(e);
        const xs = x(e);
        const { y, mean, invStd } = batchNormTraining(e, xs, p, { relu6: true });
        const g = batchNormTrainingBackward(e, xs, y, dy(e), { mean, invStd }, p, { relu6: true });
        return [y, mean, invStd, p.movingMean, p.movingVariance, g.dx, g.dgamma, g.dbeta];
      }, { rtol: 1e-4, atol: 1e-5 });
      // every backward path, paged against whole (the default folds the sums on the whole engine, 2
      // dispatches, and finalizes them when paged: sums and dx per page + 1; forced 'fold' folds in
      // every page's dx pass, dgamma/dbeta written by the first page's)
      for (const variant of ['auto', 'fold', 'finalize', 'three-pass'] as const) {
        await same(`bnTrainingBackward ${variant} ${shape}`, (e) => {
          const p = params(e);
          const xs = x(e);
          const { y, mean, invStd } = batchNormTraining(e, xs, p, { relu6: true });
          const dys = dy(e);
          const [d0, p0] = [e.dispatchCount, e.paging.pages];
          const g = batchNormTrainingBackward(e, xs, y, dys, { mean, invStd }, p, { relu6: true, variant });
          const [dispatches, pages] = [e.dispatchCount - d0, e.paging.pages - p0]; // pages: both passes' (sums, dx)
          if (variant === 'auto') expect(dispatches, `${variant} dispatches`).toBe(e === whole ? 2 : pages + 1);
          if (variant === 'fold') expect(dispatches, `${variant} dispatches`).toBe(e === whole ? 2 : pages);
          if (variant === 'finalize') expect(dispatches, `${variant} dispatches`).toBe(e === whole ? 3 : pages + 1);
          return [g.dx, g.dgamma, g.dbeta];
        }, { rtol: 1e-4, atol: 1e-5 });
      }
    }
  });

  it('add, addInPlace, copyByKernel, relu6 and its backward', async () => {
    const a = input([12, 5, 5, 4], -2, 8);
    const b = input([12, 5, 5, 4]);
    await same('add', (e) => add(e, a(e), b(e)));
    await same('copyByKernel', (e) => copyByKernel(e, a(e)));
    await same('addInPlace', (e) => {
      const t = a(e);
      addInPlace(e, t, b(e), 0.5);
      return t;
    });
    await same('relu6', (e) => relu6(e, a(e)));
    await same('relu6Backward', (e) => relu6Backward(e, relu6(e, a(e)), b(e)));
  });

  it('global average/max pooling and their backwards', async () => {
    const x = input([6, 5, 5, 8]);
    const dy = input([6, 8]);
    await same('globalAvgPool', (e) => globalAvgPool(e, x(e)));
    await same('globalMaxPool', (e) => globalMaxPool(e, x(e)));
    await same('globalAvgPoolBackward', (e) => globalAvgPoolBackward(e, dy(e), [6, 5, 5, 8]));
    await same('globalMaxPoolBackward', (e) => globalMaxPoolBackward(e, x(e), dy(e)));
  });

  it('resize into a batch larger than one binding, and augmentation (same per-image draws)', async () => {
    const bytes = Uint8Array.from({ length: 3 * 10 * 12 * 3 }, (_, i) => (i * 37) % 256);
    await same('resize packed', (e) => {
      const src = uploadImagesU8(e, bytes, [3, 10, 12, 3]);
      const out = e.alloc([8, 16, 16, 3]); // 3 KiB per image: 24 KiB in all
      resizeImages(e, src, { height: 16, width: 16, srcShape: [3, 10, 12, 3], out, outIndex: 4 });
      src.dispose();
      return e.slice(out, 4, 3); // (rows 0..3 and 7 were never written)
    });
    const x = input([6, 16, 16, 3]);
    await same('resize f32', (e) => resizeImages(e, x(e), { height: 12, width: 12 }));
    await same('augment', (e) => augment(e, x(e), { flip: true, rotation: 0.2, seed: 7 }));
  });

  // f16 activations (--precision f16): half the bytes per sample; pages bound in place (8x8x8:
  // 1 KiB f16 samples) and copied (7x7x8: 784-byte f16 samples). Without
  // shader-f16 (SwiftShader) an f16 tensor is refused instead.
  it('f16 activations: conv (f32 in, f16 out), depthwise, pointwise, add, BN, pool, backward filters reading f16', async () => {
    if (!whole.hasF16) {
      expect(() => paged.upload(new Float32Array(8), [8], 'f16')).toThrow(/shader-f16/);
      return;
    }
    const input16 = (shape: number[], lo = -1, hi = 1) => {
      const data = f32(randArray(shape.reduce((a, b) => a * b, 1), seed++, lo, hi));
      return (e: Engine) => e.upload(data, shape, 'f16');
    };
    const tol = { rtol: 1e-3, atol: 1e-3 }; // identical kernels; BN statistics summed in another order
    const x32 = input([6, 9, 9, 3]);
    const w = input([3, 3, 3, 8]);
    await same('conv2d f32 -> f16', (e) => conv2d(e, x32(e), w(e), { stride: 2, padding: 'same', dtype: 'f16' }), tol);
    for (const shape of [
      [6, 8, 8, 8],
      [6, 7, 7, 8],
    ]) {
      const x = input16(shape);
      const b = input16(shape);
      const dw = input([3, 3, 8]);
      const pw = input([8, 12]);
      const dy = input(shape);
      const sc = input([8], 0.5, 1.5);
      const sh = input([8]);
      const bn = (e: Engine) => ({ gamma: sc(e), beta: sh(e), movingMean: sh(e), movingVariance: sc(e), epsilon: 1e-3, momentum: 0.9 });
      const check16 = (t: Tensor) => {
        expect(t.dtype).toBe('f16');
        return t;
      };
      await same(`depthwise f16 [${shape}]`, (e) => check16(depthwiseConv2d(e, x(e), dw(e), { stride: 1, padding: 'same', epilogue: { scale: sc(e), shift: sh(e), relu6: true } })), tol);
      await same(`pointwise f16 [${shape}]`, (e) => check16(pointwiseConv2d(e, x(e), pw(e))), tol);
      await same(`add f16 [${shape}]`, (e) => check16(add(e, x(e), b(e))), tol);
      await same(`BN inference f16 [${shape}]`, (e) => check16(batchNormInference(e, x(e), bn(e), { relu6: true })), tol);
      await same(`BN training f16 [${shape}]`, (e) => check16(batchNormTraining(e, x(e), bn(e), { relu6: true }).y), tol);
      // (the two-pass backward reads the f16 y for the mask, paged with x and dy)
      await same(`BN training backward, f16 x and y [${shape}]`, (e) => {
        const [xs, p] = [x(e), bn(e)];
        const r = batchNormTraining(e, xs, p, { relu6: true });
        const g = batchNormTrainingBackward(e, xs, check16(r.y), dy(e), r, p, { relu6: true });
        return [g.dx, g.dgamma, g.dbeta];
      }, tol);
      await same(`global pool f16 [${shape}]`, (e) => [check16(globalAvgPool(e, x(e))), check16(globalMaxPool(e, x(e)))], tol);
      await same(`depthwise dw from f16 x [${shape}]`, (e) => depthwiseConv2dBackwardFilter(e, x(e), dy(e), { stride: 1, padding: 'same' }), tol);
      await same(`pointwise dw from f16 x [${shape}]`, (e) => pointwiseConv2dBackwardFilter(e, x(e), dy(e)), tol);
      await same(`cast f16 -> f32 and back [${shape}]`, (e) => [cast(e, x(e), 'f32'), check16(cast(e, dy(e), 'f16'))], tol);
    }
  });
});
