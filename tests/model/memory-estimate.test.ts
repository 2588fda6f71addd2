// estimateStepMemory (what `train` checks a batch against, and what `--batch-size auto` divides the
// device's memory by) against the memory a training step really takes: the buffer pool's peak over
// one step, weights, gradients and optimizer slots included. It must never under-estimate (a batch
// it lets through would fail mid-step) and should not over-estimate by much more than its 15 %
// headroom (it would refuse batches that fit), in each training mode, with the expand units' and the
// stem's BatchNorm left to the depthwise kernels (fused, the default) or stored. Its largest tensor
// per image (what one buffer of maxBufferSize must hold) is the largest allocation of the step.
import { describe, it, beforeAll, expect } from 'vitest';
import { adam, depthwiseFusesInputBn, estimateBytes, estimateStepMemory, MobileNetV2Net, trainStep, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';

const [ALPHA, S, N] = [0.35, 96, 4];
type Mode = 'frozen base' | 'fine-tune from layer 100' | 'whole network, BN frozen' | 'whole network, training-mode BN';

async function measure(e: Engine, mode: Mode, fuse: boolean): Promise<{ peak: number; estimate: number; unfused: number; fusedBlocks: number; largest: number; largestEstimate: number }> {
  const net = new MobileNetV2Net(e, { alpha: ALPHA, inputSize: S, head: { classes: 3, pooling: 'avg', dropout: 0.2 }, seed: 1 });
  if (mode === 'frozen base') net.setBaseTrainable(false);
  if (mode === 'fine-tune from layer 100') net.setBaseTrainable(100);
  if (!fuse) {
    net.fuseStemBn = false;
    for (const b of net.blocks) b.fuseExpandBn = false;
  }
  const x = e.upload(new Float32Array(N * S * S * 3).map((_, i) => Math.sin(i)), [N, S, S, 3]);
  const y = e.upload(new Int32Array(N).map((_, i) => i % 3), [N], 'i32');
  const opt = adam({ learningRate: 1e-3 });
  const step = async () => {
    const r = trainStep(e, net, opt, x, y, { loss: 'sparse-categorical', seed: 1, bnInference: mode !== 'whole network, training-mode BN' });
    await r.loss.read();
    r.loss.dispose();
    r.correct.dispose();
  };
  await step(); // (the optimizer's slots exist from the first step on)
  e.trimPool();
  e.pool.peakBytes = e.pool.allocatedBytes;
  let largest = 0;
  const alloc = e.alloc.bind(e);
  e.alloc = (shape, dtype, label) => {
    const t = alloc(shape, dtype, label);
    largest = Math.max(largest, t.bytes);
    return t;
  };
  try {
    await step();
  } finally {
    e.alloc = alloc;
  }
  const peak = e.pool.peakBytes;
  const fusedBlocks = net.blocks.filter((b) => b.lastForwardFusedBn).length;
  const opts = { training: true };
  const m = estimateStepMemory(net, { ...opts, fusesInputBn: fuse && depthwiseFusesInputBn(e) });
  const estimate = estimateBytes(m, N);
  const unfused = estimateBytes(estimateStepMemory(net, opts), N);
  opt.dispose();
  net.dispose();
  x.dispose();
  y.dispose();
  e.trimPool();
  return { peak, estimate, unfused, fusedBlocks, largest, largestEstimate: N * m.largestTensorBytes };
}

describe(`${GPU} the step memory estimate vs the pool's peak over a training step`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  for (const mode of ['frozen base', 'fine-tune from layer 100', 'whole network, BN frozen', 'whole network, training-mode BN'] as const) {
    for (const fuse of [true, false]) {
      it(`${mode}, expand BN ${fuse ? 'fused' : 'stored'}: estimate within [1, 1.2] x the peak`, async () => {
        const r = await measure(e, mode, fuse);
        const ratio = r.estimate / r.peak;
        console.log(`[memory] ${mode}, ${fuse ? 'fused' : 'stored'}: peak ${(r.peak / 2 ** 20).toFixed(1)} MiB, estimate ${(r.estimate / 2 ** 20).toFixed(1)} MiB (${ratio.toFixed(3)}x)`);
        // the path measured (the fused count as in tests/paging/training.test.ts)
        const whole = mode.startsWith('whole');
        expect(r.fusedBlocks).toBe(!fuse ? 0 : whole ? 16 : mode === 'fine-tune from layer 100' ? 5 : 0);
        expect(ratio, 'never under the real peak').toBeGreaterThanOrEqual(1);
        expect(ratio, 'not far over it').toBeLessThanOrEqual(1.2);
        // counting the fused BNs as stored over-estimates a whole-network step by more than that
        if (fuse && whole) expect(r.unfused / r.peak).toBeGreaterThan(1.2);
        // the largest buffer the step allocated is the estimated largest tensor (batch x per image)
        expect(r.largest, 'largest allocation vs the estimate').toBeLessThanOrEqual(r.largestEstimate);
        expect(r.largest).toBeGreaterThanOrEqual(0.9 * r.largestEstimate);
      });
    }
  }
});
