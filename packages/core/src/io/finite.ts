// Non-finite weights are never written and never loaded: a diverged run or a corrupted file names
// the first tensor holding NaN or ±Inf instead of producing a model that answers garbage.
import type { WeightMap } from './weight-map.js';

/** The first tensor (in map order) holding a NaN or ±Inf, with how many of its values are non-finite. */
export function firstNonFinite(weights: WeightMap): { name: string; count: number; size: number } | null {
  for (const [name, w] of weights) {
    let count = 0;
    const d = w.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) count++;
    if (count > 0) return { name, count, size: d.length };
  }
  return null;
}

/** Throws naming the first non-finite tensor; `what` says whose weights (a file, a run). */
export function assertFiniteWeights(weights: WeightMap, what: string): void {
  const bad = firstNonFinite(weights);
  if (bad) throw new Error(`${what}: tensor '${bad.name}' holds ${bad.count} non-finite value${bad.count > 1 ? 's' : ''} (NaN or Inf) of ${bad.size}`);
}
