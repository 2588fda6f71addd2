// Matmul variants picked per adapter by measurement (issue 16). The block-shape heuristic
// (`defaultMatmulTile`) was measured on lavapipe; on another adapter a different block may win. The
// tuner times a few candidate variants on the products a model really runs (recorded from a forward
// and a training step), keeps the fastest per shape, and the choice is stored per adapter by the
// shell (a JSON file in the user's cache for the CLI). Without a tuning the heuristic decides, so
// behaviour stays deterministic; a tuned choice never changes results beyond float rounding (every
// variant is tested against the CPU reference), only speed.
import { matmulTileKey, type MatmulTile } from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import { chooseMatmulVariant, hasSubgroups8, matmulDispatch, type MatmulDims, type MatmulVariant } from './matmul.js';
import { adapterKey, matmulShapeKey, type MatmulTuning, type TunedMatmul } from './tuning-registry.js';

export * from './tuning-registry.js';

/** Candidate variants of a product: the heuristic's first, then register-blocked and (8-lane subgroups) shared-load blocks. */
export function matmulCandidates(e: Engine, d: MatmulDims): MatmulVariant[] {
  const info = { ...d, subgroups8: hasSubgroups8(e) };
  const tiles: MatmulTile[] = [
    chooseMatmulVariant(info).tile,
    { bm: 4, bn: 8, map: 'n-fast', share: 'none' },
    { bm: 8, bn: 4, map: 'n-fast', share: 'none' },
    { bm: 4, bn: 4, map: 'n-fast', share: 'none' },
    { bm: 2, bn: 8, map: 'n-fast', share: 'none' },
    { bm: 4, bn: 8, map: 'm-fast', share: 'none' },
  ];
  if (info.subgroups8) tiles.push({ bm: 2, bn: 16, map: 'n-fast', share: 'b' }, { bm: 4, bn: 8, map: 'n-fast', share: 'b' }, { bm: 4, bn: 16, map: 'n-fast', share: 'b' }, { bm: 8, bn: 4, map: 'n-fast', share: 'a' });
  const seen = new Set<string>();
  return tiles
    .filter((t) => t.bm <= Math.max(4, d.M) && !seen.has(matmulTileKey(t)) && seen.add(matmulTileKey(t)))
    .map((tile) => chooseMatmulVariant(info, { tile }));
}

export interface TuneOptions {
  /** Stop starting new shapes after this many ms (default 30 000); the rest keep the heuristic. */
  budgetMs?: number;
  /** Timed runs per candidate after one warm-up run (default 3). */
  reps?: number;
  /** Clock in ms (default performance.now, where the platform has it). */
  now?: () => number;
  /** Progress: shape done of total. */
  onShape?(done: number, total: number, key: string, t: TunedMatmul): void;
}

/** Times the candidates of every product (largest work first) and returns the fastest of each. */
export async function tuneMatmul(e: Engine, shapes: readonly MatmulDims[], o: TuneOptions = {}): Promise<MatmulTuning> {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  const now = o.now ?? (() => (perf ? perf.now() : Date.now()));
  const budget = o.budgetMs ?? 30_000;
  const reps = Math.max(1, o.reps ?? 3);
  const t0 = now();
  const choices: Record<string, TunedMatmul> = {};
  const order = [...shapes].sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K);
  let done = 0;
  for (const d of order) {
    if (now() - t0 > budget) break;
    const a = e.alloc(d.transA ? [d.K, d.M] : [d.M, d.K]);
    const b = e.alloc(d.transB ? [d.N, d.K] : [d.K, d.N]);
    const time = async (v: MatmulVariant): Promise<number> => {
      matmulDispatch(e, 'tune', a, b, d, [d.M, d.N], { variant: v }).dispose(); // compiles the pipeline
      await e.sync();
      const s = now();
      for (let r = 0; r < reps; r++) matmulDispatch(e, 'tune', a, b, d, [d.M, d.N], { variant: v }).dispose();
      await e.sync();
      return (now() - s) / reps;
    };
    try {
      const cands = matmulCandidates(e, d);
      const times: number[] = [];
      for (const v of cands) times.push(await time(v));
      let best = 0;
      for (let i = 1; i < times.length; i++) if (times[i] < times[best]) best = i;
      const t: TunedMatmul = { tile: cands[best].tile, splitK: cands[best].splitK, ms: times[best], defaultMs: times[0] };
      choices[matmulShapeKey(d)] = t;
      o.onShape?.(++done, order.length, matmulShapeKey(d), t);
    } finally {
      a.dispose();
      b.dispose();
    }
  }
  return { version: 1, adapter: adapterKey(e), date: new Date().toISOString(), choices };
}

