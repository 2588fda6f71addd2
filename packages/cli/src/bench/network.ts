// Whole-network inference forward for `bench kernels`' "whole network vs sum of kernels" line: the
// same MobileNetV2Net inference path as `bench infer` (BN folded, ReLU6 fused, one submit), recorded
// n times per sync like the kernels (no readback), random weights and input.
import { MobileNetV2Net, type Engine } from '@mnv2/core';
import { SetupContext } from './entries.js';
import type { BenchConfig } from './layers.js';
import { type Timing, type TimingOptions, timeRuns } from './timing.js';

export async function networkForwardMs(e: Engine, cfg: BenchConfig, timing: TimingOptions): Promise<number> {
  return (await networkForward(e, cfg, timing)).ms;
}

/** The timed forward with all its samples (ms per forward). */
export async function networkForward(e: Engine, cfg: BenchConfig, timing: TimingOptions): Promise<Timing> {
  const net = new MobileNetV2Net(e, { alpha: cfg.alpha, inputSize: cfg.size, head: { classes: 1000, pooling: 'avg', dropout: 0 }, seed: 1 });
  const ctx = new SetupContext(e);
  try {
    const x = ctx.rand([cfg.batch, cfg.size, cfg.size, 3]);
    return await timeRuns(e, () => e.tidy(() => void net.forward(e, x, { training: false })), timing);
  } finally {
    ctx.dispose();
    net.dispose();
  }
}
