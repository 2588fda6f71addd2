// The adapter's matmul ceiling, measured in the same process as the kernels: C = A·B at 512³ and
// 1024³ with the default block choice and the other strong candidates; the best GFLOP/s counts.
import { type Engine, type MatmulVariant, matmul, chooseMatmulVariant, hasSubgroups8 } from '@mnv2/core';
import { type MatmulTile, matmulTileKey } from '@mnv2/kernels';
import { SetupContext } from './entries.js';
import { type TimingOptions, timeRuns } from './timing.js';

export interface CeilingResult {
  n: number;
  gflops: number;
  ms: number;
  tile: string;
  /** Every candidate: tile key → GFLOP/s. */
  all: Record<string, number>;
}

export function ceilingCandidates(e: Engine, n: number): MatmulTile[] {
  const def = chooseMatmulVariant({ M: n, N: n, K: n, transA: false, transB: false, subgroups8: hasSubgroups8(e) }).tile;
  const list: MatmulTile[] = [def, { bm: 4, bn: 8, map: 'n-fast', share: 'none' }, { bm: 8, bn: 4, map: 'n-fast', share: 'none' }];
  if (hasSubgroups8(e)) {
    list.push(
      { bm: 4, bn: 16, map: 'n-fast', share: 'b' },
      { bm: 8, bn: 16, map: 'n-fast', share: 'b' },
      { bm: 2, bn: 16, map: 'n-fast', share: 'b' },
      { bm: 8, bn: 4, map: 'n-fast', share: 'a' },
    );
  }
  const seen = new Set<string>();
  return list.filter((t) => !seen.has(matmulTileKey(t)) && seen.add(matmulTileKey(t)));
}

export async function matmulCeiling(e: Engine, n: number, timing: TimingOptions): Promise<CeilingResult> {
  const ctx = new SetupContext(e);
  try {
    const a = ctx.rand([n, n]);
    const b = ctx.rand([n, n]);
    const flops = 2 * n * n * n;
    const all: Record<string, number> = {};
    let best: CeilingResult | null = null;
    for (const tile of ceilingCandidates(e, n)) {
      const variant: Partial<MatmulVariant> = { tile, splitK: 1 };
      const t = await timeRuns(e, () => e.tidy(() => void matmul(e, a, b, { variant })), timing);
      const gflops = flops / (t.ms * 1e6);
      all[matmulTileKey(tile)] = gflops;
      if (!best || gflops > best.gflops) best = { n, gflops, ms: t.ms, tile: matmulTileKey(tile), all };
    }
    return best!;
  } finally {
    ctx.dispose();
  }
}
