// The one work-splitting planner: how `rows` work items (rows of a per-channel reduction, filter-
// gradient row runs, K of a split-K matmul) are split into parts. Each invocation owns one (part,
// lane) pair and loops over `rowsPerPart` rows, writing one partial per part; a second, tiny kernel
// folds the `parts` partials. No atomics, no barriers (LAVAPIPE.md: barrier trees are the slowest
// form there), and enough invocations (~target) for dozens of workgroups so both cores work.

export interface SplitPlan {
  parts: number;
  rowsPerPart: number;
}

/** Invocations aimed at by the first pass of a split reduction (BatchNorm, global pooling). */
export const REDUCE_TARGET_INVOCATIONS = 8192;

/** Parts wanted so that `lanes` invocations per part reach `target`, at least 1 and at most `maxParts`. */
export function splitCount(target: number, lanes: number, maxParts: number): number {
  return Math.max(1, Math.min(Math.ceil(target / Math.max(1, lanes)), maxParts));
}

/**
 * @param rows     rows reduced per output (e.g. N*H*W for BatchNorm)
 * @param lanes    independent outputs x channel groups (e.g. C/4 with vec4)
 * @param minRows  fewest rows a part may hold (fewer parts = less work for the second pass)
 * @param target   invocations aimed at over all parts
 * Parts are even, the last one ragged, none empty.
 */
export function splitPlan(rows: number, lanes: number, minRows = 16, target = REDUCE_TARGET_INVOCATIONS): SplitPlan {
  let parts = splitCount(target, lanes, Math.ceil(rows / minRows));
  const rowsPerPart = Math.max(1, Math.ceil(rows / parts));
  parts = Math.max(1, Math.ceil(rows / rowsPerPart));
  return { parts, rowsPerPart };
}
