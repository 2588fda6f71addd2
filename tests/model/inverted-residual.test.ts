// Whole-block gradient check in f32 on the GPU: the directional derivative of a scalar loss along a
// random direction, by central differences, must match <grad, v> from our backward — for the
// block's input and for every trainable weight, with BN in training mode (batch statistics) and in
// inference mode (frozen-BN semantics with trainable gamma/beta).
import { describe, it, beforeAll, expect } from 'vitest';
import { ConvBn, InvertedResidual, type Engine, type Tensor, type ConvKind } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';

function makeUnit(e: Engine, kind: ConvKind, name: string, inC: number, outC: number, stride: 1 | 2, relu: boolean, seed: number) {
  const kshape = kind === 'pointwise' ? [inC, outC] : kind === 'depthwise' ? [3, 3, inC] : [3, 3, inC, outC];
  const n = kshape.reduce((a, b) => a * b, 1);
  const up = (a: Float64Array, s: number[]) => e.upload(f32(a), s);
  return new ConvBn(
    { kind, convName: name, bnName: `${name}_BN`, reluName: relu ? `${name}_relu` : undefined, inChannels: inC, outChannels: outC, stride, padding: 'same', epsilon: 1e-3, momentum: 0.99 },
    {
      kernel: up(randArray(n, seed, -0.6, 0.6), kshape),
      gamma: up(randArray(outC, seed + 1, 0.5, 1.5), [outC]),
      beta: up(randArray(outC, seed + 2, -0.3, 0.8), [outC]),
      movingMean: up(randArray(outC, seed + 3, -0.2, 0.2), [outC]),
      movingVariance: up(randArray(outC, seed + 4, 0.5, 2), [outC]),
    },
  );
}

async function dot(a: Tensor, b: Float64Array): Promise<number> {
  const x = await a.read();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * b[i];
  return s;
}

/**
 * Checks <grad, v> against the central difference of `loss` along a random direction v of `target`
 * (whose values are `base`; restored after).
 */
function directional(e: Engine, loss: () => Promise<number>, eps = 1e-3) {
  return async (what: string, target: Tensor, base: Float64Array, grad: Tensor) => {
    const v = randArray(base.length, what.length * 7 + 3);
    e.write(target, f32(base.map((b, i) => b + eps * v[i])));
    const lp = await loss();
    e.write(target, f32(base.map((b, i) => b - eps * v[i])));
    const lm = await loss();
    e.write(target, f32(base));
    const numeric = (lp - lm) / (2 * eps);
    const analytic = await dot(grad, v);
    expect(Math.abs(numeric - analytic), `${what}: numeric ${numeric} vs analytic ${analytic}`).toBeLessThan(0.03 * Math.abs(analytic) + 2e-3);
  };
}

describe(`${GPU} inverted residual block`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  // fuse: the expand unit's training-forward BN + ReLU6 (batch statistics, or the moving ones in
  // inference mode) left to the depthwise kernels or stored as usual.
  for (const [bnInference, fuse] of [[false, true], [false, false], [true, true], [true, false]]) {
    for (const [stride, residual] of [[1, true], [2, false]] as const) {
      it(`directional derivatives match backward (stride ${stride}, BN ${bnInference ? 'inference' : 'training'}, expand BN ${fuse ? 'fused' : 'stored'})`, async () => {
        const [N, H, W, C, E] = [2, 5, 5, 4, 12];
        const outC = residual ? C : 8;
        const units = [
          makeUnit(e, 'pointwise', 'b_expand', C, E, 1, true, 10),
          makeUnit(e, 'depthwise', 'b_depthwise', E, E, stride, true, 20),
          makeUnit(e, 'pointwise', 'b_project', E, outC, 1, false, 30),
        ];
        const block = new InvertedResidual('b', units, residual);
        block.fuseExpandBn = fuse;
        for (const u of units) u.recordForBackward = true;
        const ctx = { training: true, bnInference };
        const xData = randArray(N * H * W * C, 5, -1, 1);
        const x = e.upload(f32(xData), [N, H, W, C]);
        const y0 = block.forward(e, x, ctx);
        // The path taken: fused exactly where asked.
        expect(block.lastForwardFusedBn).toBe(fuse);
        const r = randArray(y0.size, 6);
        const dx = block.backward(e, e.upload(f32(r), y0.shape), true)!;

        // Loss(x, params) = sum(block(x) * r); compare along a random direction per input.
        const check = directional(e, async () => dot(block.forward(e, x, ctx), r));
        await check('input x', x, xData, dx);
        for (const u of units) {
          for (const p of [u.kernel, u.gamma, u.beta]) {
            const base = Float64Array.from(await p.value.read());
            await check(p.name, p.value, base, p.grad!);
          }
        }
      });
    }
  }

  // MobileNetV2's stem (3x3 conv, BN, ReLU6) feeds block 0 (depthwise, project; no shortcut): in a
  // training forward the stem's BN + ReLU6 is applied by block 0's depthwise kernels as they load, as
  // MobileNetV2Net.forward does.
  for (const [bnInference, fuse] of [[false, true], [false, false], [true, true]]) {
    it(`directional derivatives match backward: stem conv → block 0 (BN ${bnInference ? 'inference' : 'training'}, stem BN ${fuse ? 'fused' : 'stored'})`, async () => {
      const [N, H, W, C] = [2, 9, 9, 3];
      const stem = makeUnit(e, 'conv3x3', 'Conv1', C, 8, 2, true, 40);
      const units = [makeUnit(e, 'depthwise', 'b0_depthwise', 8, 8, 1, true, 50), makeUnit(e, 'pointwise', 'b0_project', 8, 4, 1, false, 60)];
      const block = new InvertedResidual('b0', units, false);
      for (const u of [stem, ...units]) u.recordForBackward = true;
      const ctx = { training: true, bnInference };
      const fwd = (x: Tensor) => {
        const fused = fuse && stem.canDeferBnTo(e, ctx, units[0]);
        if (!fused) return { y: block.forward(e, stem.forward(e, x, ctx), ctx), fused };
        const d = stem.forwardDeferred(e, x, ctx);
        return { y: block.forward(e, d.z, ctx, d.bn), fused };
      };
      const xData = randArray(N * H * W * C, 7, -1, 1);
      const x = e.upload(f32(xData), [N, H, W, C]);
      const first = fwd(x);
      expect(first.fused).toBe(fuse);
      const r = randArray(first.y.size, 8);
      const g = block.backward(e, e.upload(f32(r), first.y.shape), true)!;
      stem.backward(e, g, false);
      const check = directional(e, async () => dot(fwd(x).y, r));
      for (const u of [stem, ...units]) {
        for (const p of [u.kernel, u.gamma, u.beta]) await check(p.name, p.value, Float64Array.from(await p.value.read()), p.grad!);
      }
    });
  }
});
