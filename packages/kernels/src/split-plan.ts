// How a per-channel reduction over `rows` rows is split across invocations. Each invocation owns one
// (part, channel group) pair and loops over `rowsPerPart` rows with vec4 loads over channels, writing
// one partial per part; a second, tiny kernel folds the `parts` partials of each channel. No atomics,
// no barriers (LAVAPIPE.md: barrier trees are the slowest form there), and enough invocations
// (~TARGET) for dozens of workgroups so both cores work.

export interface ReducePlan {
  parts: number;
  rowsPerPart: number;
}

/** Invocations aimed at by the first pass of a split reduction. */
export const REDUCE_TARGET_INVOCATIONS = 8192;

/**
 * @param rows     rows reduced per output (e.g. N*H*W for BatchNorm)
 * @param lanes    independent outputs x channel groups (e.g. C/4 with vec4)
 * @param minRows  fewest rows a part may hold (fewer parts = less work for the second pass)
 */
export function reducePlan(rows: number, lanes: number, minRows = 16): ReducePlan {
  const wanted = Math.ceil(REDUCE_TARGET_INVOCATIONS / Math.max(1, lanes));
  let parts = Math.max(1, Math.min(wanted, Math.ceil(rows / minRows)));
  const rowsPerPart = Math.max(1, Math.ceil(rows / parts));
  parts = Math.max(1, Math.ceil(rows / rowsPerPart));
  return { parts, rowsPerPart };
}
