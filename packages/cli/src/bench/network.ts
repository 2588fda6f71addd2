// Whole-network inference forward for `bench kernels`' "whole network vs sum of kernels" line: the
// same MobileNetV2Net inference path as `bench infer` (BN folded, ReLU6 fused, one submit), recorded
// n times per sync like the kernels (no readback), random weights and input.
import { MobileNetV2Net, matmul, type Engine } from '@mnv2/core';
import { matmulTileKey } from '@mnv2/kernels';
import { ceilingCandidates } from './ceiling.js';
import { inferenceFlopsPerImage } from './infer.js';
import { SetupContext } from './entries.js';
import type { BenchConfig } from './layers.js';
import { type Timing, type TimingOptions, timeInterleaved, timeRuns } from './timing.js';

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

export interface NetworkShare {
  /** The forward's GFLOP/s (median of its interleaved repeats). */
  gflops: number;
  /** The best 1024³ matmul candidate's GFLOP/s in the same repeats. */
  ceiling: number;
  tile: string;
  ms: number;
}

/**
 * The inference forward's GFLOP/s as a share of the matmul ceiling, both timed in the SAME repeats:
 * the forward and every 1024³ ceiling candidate alternate (A, B, C, …, A, B, C, …), so a shared
 * host's drift (up to 1.8x within minutes here) hits both alike. The separate start/end ceilings
 * of the run stay for the per-kernel "% ceil" columns.
 */
export async function networkVsCeiling(e: Engine, cfg: BenchConfig, timing: TimingOptions): Promise<NetworkShare> {
  const net = new MobileNetV2Net(e, { alpha: cfg.alpha, inputSize: cfg.size, head: { classes: 1000, pooling: 'avg', dropout: 0 }, seed: 1 });
  const ctx = new SetupContext(e);
  try {
    const x = ctx.rand([cfg.batch, cfg.size, cfg.size, 3]);
    const n = 1024;
    const a = ctx.rand([n, n]);
    const b = ctx.rand([n, n]);
    const tiles = ceilingCandidates(e, n);
    const runs = [
      () => e.tidy(() => void net.forward(e, x, { training: false })),
      ...tiles.map((tile) => () => e.tidy(() => void matmul(e, a, b, { variant: { tile, splitK: 1 } }))),
    ];
    // >= 300 ms per repeat: several forwards back to back at batch 1, so the 1024³ products' 12 MiB
    // of operands do not leave every forward with cold caches (measured: 138 vs 110 ms at 224 b1).
    const [t, ...ts] = await timeInterleaved(e, runs, { ...timing, minMs: Math.max(timing.minMs, 300), maxN: 20 });
    const gf = ts.map((m) => (2 * n * n * n) / (m.ms * 1e6));
    const best = gf.indexOf(Math.max(...gf));
    return { gflops: (inferenceFlopsPerImage(cfg.alpha, cfg.size) * cfg.batch) / (t.ms * 1e6), ceiling: gf[best], tile: matmulTileKey(tiles[best]), ms: t.ms };
  } finally {
    ctx.dispose();
    net.dispose();
  }
}

/** One line for the share (issue 16's bars: >= 50 % at 224 b8, >= 35 % at 224 b1). */
export function networkShareLine(cfg: BenchConfig, s: NetworkShare): string {
  const pct = (100 * s.gflops) / s.ceiling;
  const bar = cfg.size === 224 && cfg.batch === 8 ? 50 : cfg.size === 224 && cfg.batch === 1 ? 35 : undefined;
  const verdict = bar === undefined ? '' : ` (target >= ${bar} %: ${pct >= bar ? 'met' : 'NOT met'})`;
  return `whole network vs the matmul ceiling timed interleaved with it: ${s.gflops.toFixed(2)} GFLOP/s (${s.ms.toFixed(1)} ms) vs ${s.ceiling.toFixed(1)} GFLOP/s (1024³, ${s.tile}) = ${pct.toFixed(0)} %${verdict}`;
}

