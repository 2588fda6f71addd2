// Inference folds each unit's BatchNorm into its conv's epilogue. The fold (one dispatch per unit,
// as many as the convolutions) is cached per unit and redone only when gamma, beta or the moving
// statistics were written since (engine write stamps): host writes, optimizer steps and
// training-mode BatchNorm all invalidate it, and the cached path gives the uncached result exactly.
import { describe, it, expect } from 'vitest';
import { type Engine, type Tensor, MobileNetV2Net, sgd, trainStep } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';

const [N, S, K] = [2, 32, 3];

async function infer(e: Engine, net: MobileNetV2Net, x: Tensor): Promise<{ y: Float32Array; dispatches: number }> {
  const d0 = e.dispatchCount;
  const t = e.tidy(() => net.forward(e, x, { training: false }));
  const dispatches = e.dispatchCount - d0;
  const y = await t.read();
  t.dispose();
  return { y, dispatches };
}

/** The same forward with every unit's cache dropped first (folds everything again). */
async function uncached(e: Engine, net: MobileNetV2Net, x: Tensor) {
  for (const u of net.convUnits()) u.releaseCaches();
  return infer(e, net, x);
}

describe(`${GPU} folded BatchNorm cache`, () => {
  it('repeated inference folds once; a write, an optimizer step or BN training refolds exactly what changed', async () => {
    const e = await gpuEngine();
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: S, head: { classes: K, pooling: 'avg', dropout: 0 }, seed: 3 });
    const units = net.convUnits().length;
    const x = e.upload(f32(randArray(N * S * S * 3, 4, -1, 1)), [N, S, S, 3]);
    const weights = net.params().length;
    let live0 = 0;
    try {
      const first = await infer(e, net, x);
      const second = await infer(e, net, x);
      expect(first.dispatches - second.dispatches).toBe(units); // the second forward folds nothing
      expect(second.y).toEqual(first.y);
      for (const u of net.convUnits()) u.releaseCaches();
      live0 = e.pool.liveCount; // weights, x and the engine's shared bindings, no caches
      await infer(e, net, x);
      expect(e.pool.liveCount).toBe(live0 + 2 * units); // one scale and one shift per unit, kept

      // A host write into one unit's gamma: that unit alone folds again, with the new values.
      const u = net.convUnits()[5];
      const g = await u.gamma.value.read();
      e.write(u.gamma.value, g.map((v) => v * 1.5));
      const afterWrite = await infer(e, net, x);
      expect(afterWrite.dispatches).toBe(second.dispatches + 1);
      expect(afterWrite.y).not.toEqual(first.y);
      expect(afterWrite.y).toEqual((await uncached(e, net, x)).y);

      // Training steps with BN in training mode write gammas/betas (optimizer) and moving statistics.
      const labels = e.upload(new Int32Array([0, 2]), [N], 'i32');
      const opt = sgd({ learningRate: 0.05 });
      const before = await infer(e, net, x);
      const r = trainStep(e, net, opt, x, labels, { loss: 'sparse-categorical', seed: 1, bnInference: false });
      r.loss.dispose();
      r.correct.dispose();
      const afterStep = await infer(e, net, x);
      expect(afterStep.dispatches).toBe(before.dispatches + units);
      expect(afterStep.y).not.toEqual(before.y);
      expect(afterStep.y).toEqual((await uncached(e, net, x)).y);
      opt.dispose();
      labels.dispose();
    } finally {
      x.dispose();
      net.dispose();
    }
    expect(e.pool.liveCount).toBe(live0 - weights - 1); // the weights, their caches and x are all freed
  });
});
