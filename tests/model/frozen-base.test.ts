// Keras frozen-base semantics: with base.trainable = False and BatchNorm in inference mode, training
// the head leaves every base weight AND the BN moving statistics bit-identical (TF.js updates them).
import { describe, it, beforeAll, expect } from 'vitest';
import { MobileNetV2Net, adam, trainStep, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';

describe(`${GPU} frozen base`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  it('base weights and moving statistics are bit-identical after head training; the head changes', async () => {
    const [N, S] = [4, 32];
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: S, head: { classes: 3, pooling: 'avg', dropout: 0.2 }, seed: 5 });
    net.setBaseTrainable(false);
    const base = net.convUnits().flatMap((u) => u.params());
    const head = net.head!.params();
    const snapshot = async (ps: typeof base) => Promise.all(ps.map(async (p) => new Uint32Array((await p.value.read()).buffer)));
    const before = await snapshot(base);
    const headBefore = await snapshot(head);
    const x = e.upload(f32(randArray(N * S * S * 3, 3, -1, 1)), [N, S, S, 3]);
    const labels = e.upload(new Int32Array([0, 1, 2, 0]), [N], 'i32');
    const opt = adam({ learningRate: 1e-2 });
    for (let step = 0; step < 3; step++) {
      const r = trainStep(e, net, opt, x, labels, { loss: 'sparse-categorical', seed: step, bnInference: true });
      await r.loss.read();
      r.loss.dispose();
      r.correct.dispose();
    }
    const after = await snapshot(base);
    base.forEach((p, i) => expect(Array.from(after[i]), p.name).toEqual(Array.from(before[i])));
    const headAfter = await snapshot(head);
    expect(head.some((p, i) => headAfter[i].some((v, j) => v !== headBefore[i][j]))).toBe(true);
    expect(base.some((p) => p.name.endsWith('moving_mean'))).toBe(true);
  });

  it('fine-tuning with BN in inference mode (Keras training=False) changes kernels but never the moving statistics', async () => {
    const [N, S] = [4, 32];
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: S, head: { classes: 3, pooling: 'avg', dropout: 0 }, seed: 6 });
    net.setBaseTrainable(true);
    const moving = net.convUnits().flatMap((u) => [u.movingMean, u.movingVariance]);
    const kernels = net.convUnits().map((u) => u.kernel);
    const snap = async (ps: typeof moving) => Promise.all(ps.map(async (p) => new Uint32Array((await p.value.read()).buffer)));
    const mBefore = await snap(moving);
    const kBefore = await snap(kernels);
    const x = e.upload(f32(randArray(N * S * S * 3, 4, -1, 1)), [N, S, S, 3]);
    const labels = e.upload(new Int32Array([2, 1, 0, 1]), [N], 'i32');
    const opt = adam({ learningRate: 1e-3 });
    for (let step = 0; step < 2; step++) {
      const r = trainStep(e, net, opt, x, labels, { loss: 'sparse-categorical', seed: step, bnInference: true });
      await r.loss.read();
      r.loss.dispose();
      r.correct.dispose();
    }
    const mAfter = await snap(moving);
    moving.forEach((p, i) => expect(Array.from(mAfter[i]), p.name).toEqual(Array.from(mBefore[i])));
    const kAfter = await snap(kernels);
    expect(kernels.filter((p, i) => kAfter[i].some((v, j) => v !== kBefore[i][j])).length).toBe(kernels.length);
  });
});
