// BatchNorm training statistics, pass 1 of 2: per-channel partial sums over a slice of rows of an
// NHWC tensor viewed as [R = N*H*W, C]. To avoid the cancellation of E[x²] − E[x]² in f32, values
// are shifted by the channel's first row, d = x − x[0, c] (a sample of the same distribution), and
// the pass accumulates Σd and Σd². The shift is read from its own binding (x itself, or the first
// page of a batch computed in pages, so every page shares one shift and their partials combine
// exactly: ops/norm/batchnorm.ts). Invocation (part p, channel group c) writes
//   partials[p, c] = Σd,  partials[parts + p, c] = Σd²,  and (p = 0) partials[2·parts, c] = shift.
// See split-plan.ts for the split; batchnorm-stats-finalize.ts folds the partials.
import { defineKernel } from '../define-kernel.js';
import { splitPlan } from '../split-plan.js';
import { MAIN_1D, flatIndex, vecType, wgsl, ceilDiv, grid1d, vecCount, type VecConfig } from '../wgsl.js';

export const BN_WG = 64;

/**
 * Dispatch of the row-loop passes (stats, apply, backward, backward-dx) over `rows` rows of
 * `channels` f32 channels: one invocation per (part of the rows, channel group), parts from
 * split-plan.ts (`target` invocations, default REDUCE_TARGET_INVOCATIONS). The op sizes its partials
 * buffer with the same plan (`uniforms.parts`).
 */
export function bnRowDispatch(cfg: VecConfig, rows: number, channels: number, target?: number) {
  const c = vecCount(cfg, channels);
  const { parts, rowsPerPart } = splitPlan(rows, c, undefined, target);
  return { grid: grid1d(ceilDiv(parts * c, BN_WG)), uniforms: { rows, c, parts, rowsPerPart } };
}

/** Uniforms of the row-loop passes (c in units of the bound type). */
export const BN_ROW_UNIFORMS = { rows: 'u32', c: 'u32', parts: 'u32', rowsPerPart: 'u32' } as const;

/**
 * WGSL main of an element-wise row-loop pass (apply, backward-dx): invocation (part p, channel group
 * ch) runs `perChannel` once, then `each` for every row of its part with `idx` = the element.
 */
/**
 * WGSL: the opening of every row-split BN pass (stats, backward, apply, backward-dx): invocation i is
 * (part p, channel group ch); invocations past parts x channels return.
 */
export const BN_PART_MAIN = wgsl`@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(BN_WG)};
  if (i >= u.parts * u.c) { return; }
  let ch = i % u.c;
  let p = i / u.c;`;

export const bnRowLoopMain = (perChannel: string, each: string) => wgsl`
${BN_PART_MAIN}
  ${perChannel}
  let r1 = min((p + 1u) * u.rowsPerPart, u.rows);
  for (var r = p * u.rowsPerPart; r < r1; r++) {
    let idx = r * u.c + ch;
    ${each}
  }
}`;

/** Dispatch of the per-channel passes (fold, finalize): one invocation per channel group. */
export function bnChannelDispatch<X extends Record<string, number>>(cfg: VecConfig, channels: number, extra: X) {
  const c = vecCount(cfg, channels);
  return { grid: grid1d(ceilDiv(c, BN_WG)), uniforms: { c, ...extra } };
}

/**
 * WGSL after BN_PART_MAIN: the rows of part `p` (r0..r1) and two pairs of accumulators (s, q), walked
 * two rows per iteration from `r`. Shared by the statistics and the backward sums.
 */
export const PART_SUMS_HEAD = `  let r0 = p * u.rowsPerPart;
  let r1 = min(r0 + u.rowsPerPart, u.rows);
  var s0 = T(0.0); var q0 = T(0.0);
  var s1 = T(0.0); var q1 = T(0.0);
  var r = r0;
  // Two rows per iteration with independent accumulators (shorter dependency chains).`;

export const batchnormStats = defineKernel({
  name: 'batchnorm-stats',
  uniforms: BN_ROW_UNIFORMS,
  bindings: {
    x: { access: 'read', type: vecType },
    /** Row 0 is the shift (x itself unless paged). */
    shift: { access: 'read', type: vecType },
    partials: { access: 'read_write', type: vecType }, // [2*parts + 1, c]
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { rows: number; channels: number }) => bnRowDispatch(cfg, s.rows, s.channels),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: (cfg: VecConfig) => wgsl`
alias T = ${vecType(cfg)};
${BN_PART_MAIN}
  let sh = shift[ch];
${PART_SUMS_HEAD}
  for (; r + 1u < r1; r += 2u) {
    let d0 = x[r * u.c + ch] - sh;
    let d1 = x[(r + 1u) * u.c + ch] - sh;
    s0 += d0; q0 += d0 * d0;
    s1 += d1; q1 += d1 * d1;
  }
  if (r < r1) {
    let d0 = x[r * u.c + ch] - sh;
    s0 += d0; q0 += d0 * d0;
  }
  partials[p * u.c + ch] = s0 + s1;
  partials[(u.parts + p) * u.c + ch] = q0 + q1;
  if (p == 0u) { partials[2u * u.parts * u.c + ch] = sh; }
}`,
});
