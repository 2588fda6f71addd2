// Training really learns: a MobileNetV2-shaped network (alpha 0.35 at 32x32, random weights, BN in
// training mode) must drive the loss on one fixed batch down at least 10x within a bounded number
// of Adam steps on the software adapter.
import { describe, it, beforeAll, expect } from 'vitest';
import { MobileNetV2Net, adam, trainStep, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';

describe(`${GPU} small MobileNetV2 overfits one batch`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  it('loss falls at least 10x within 60 Adam steps', async () => {
    const [N, S, K] = [8, 32, 4];
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: S, head: { classes: K, pooling: 'avg', dropout: 0 }, seed: 3 });
    const x = e.upload(f32(randArray(N * S * S * 3, 11, -1, 1)), [N, S, S, 3]);
    const labels = e.upload(new Int32Array([0, 1, 2, 3, 0, 1, 2, 3]), [N], 'i32');
    const opt = adam({ learningRate: 3e-3 });
    let first = NaN;
    let last = NaN;
    let steps = 0;
    const t0 = performance.now();
    for (let step = 0; step < 60; step++) {
      const { loss, correct } = trainStep(e, net, opt, x, labels, { loss: 'sparse-categorical', seed: step });
      last = (await loss.read())[0];
      correct.dispose();
      loss.dispose();
      if (step === 0) first = last;
      expect(Number.isFinite(last), `loss at step ${step}`).toBe(true);
      steps = step + 1;
      if (last < first / 10) break;
    }
    console.log(`[overfit] loss ${first.toFixed(4)} → ${last.toFixed(5)} after ${steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(last).toBeLessThan(first / 10);
  });
});
