// Depthwise 2D convolution, gradient w.r.t. the filter, "subgroup" form (adapters whose subgroups
// are 8 lanes: lavapipe on AVX2/AVX-512):
//   dw[kh,kw,c] = sum over (n,oh,ow) of x[n, oh*s - padTop + kh, ow*s - padLeft + kw, c] * dy[n,oh,ow,c].
//
// Same layout as the subgroup forward (depthwise-conv2d-subgroup.ts): the 8 lanes of a subgroup are
// 8 consecutive output columns of one channel group, each lane loads only its own column of an input
// row (+ the halo lanes) and takes its k taps by subgroup shuffles, and rows stream down a strip so
// each input row is loaded once and pairs with the L = floor((k-1)/s) + 1 dy rows it feeds, which sit
// in registers (d0..d<L-1>, rotated as the strip advances; rows past the strip read 0 so no pair is
// counted twice). Per output one lane loads ~1.25 (s1) input values and one dy, against ~7 for the
// register-blocked form (depthwise-conv2d.backward-filter.ts). A unit (one subgroup) walks every
// column block of one strip of one sample and keeps the k*k accumulators; at the end subgroupAdd sums
// them over the lanes and lane (tap % 8) writes tap `tap` of partial [P = N*strips, k, k, C], summed
// by `convFilterReduce` (core writes straight into dw when P = 1). With `inputBn` the input is a
// BatchNorm's raw input, normalized (+ReLU6) as it loads (input-bn.ts).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, wgsl } from '../wgsl.js';
import { CONV_WG, type ConvShapes, decodeIndex } from './conv-common.js';
import { stripPlan } from './depthwise-conv2d-strip.js';
import { INPUT_BN_BINDINGS } from './input-bn.js';
import {
  DW_SG,
  type DepthwiseSubgroupConfig,
  sgInputBnLoads,
  SUBGROUP_PREAMBLE,
  SUBGROUP_UNIFORMS,
  depthwiseSubgroupKey,
  rowsInFlight,
  sgVecType,
  spanColumnChecks,
  spanRegisters,
  streamRow,
  validateSubgroup,
} from './depthwise-conv2d-subgroup.js';

/** One subgroup per (channel group, strip of output rows, sample); P = N * strips partial filters. */
export function depthwiseSubgroupFilterDispatch(cfg: DepthwiseSubgroupConfig, s: ConvShapes) {
  const cv = s.cin / cfg.vec;
  if (!Number.isInteger(cv)) throw new Error(`depthwise subgroup: ${s.cin} channels are not a multiple of ${cfg.vec}`);
  const blocks = ceilDiv(s.OW, DW_SG);
  const { strips, rowsPerStrip } = stripPlan(s.OH, s.N * cv * DW_SG);
  const units = s.N * strips * cv;
  return {
    grid: grid1d(ceilDiv(units * DW_SG, CONV_WG)),
    parts: s.N * strips,
    uniforms: { units, H: s.H, W: s.W, OH: s.OH, OW: s.OW, blocks, strips, rowsPerStrip, padTop: s.padTop, padLeft: s.padLeft, cv },
  };
}

export const depthwiseConv2dSubgroupBackwardFilter = defineKernel({
  name: 'depthwise-conv2d-subgroup.backward-filter',
  uniforms: SUBGROUP_UNIFORMS,
  bindings: {
    x: { access: 'read', type: sgVecType },
    dy: { access: 'read', type: sgVecType },
    ...INPUT_BN_BINDINGS,
    partial: { access: 'read_write', type: sgVecType }, // [P, k, k, C]
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  preamble: () => SUBGROUP_PREAMBLE,
  dispatch: (cfg: DepthwiseSubgroupConfig, s: ConvShapes) => {
    const { grid, uniforms } = depthwiseSubgroupFilterDispatch(cfg, s);
    return { grid, uniforms };
  },
  key: (cfg: DepthwiseSubgroupConfig) => depthwiseSubgroupKey(cfg),
  body: (cfg: DepthwiseSubgroupConfig) => {
    validateSubgroup('depthwise-conv2d-subgroup.backward-filter', cfg);
    const { k: K, stride: S } = cfg;
    const Z = `${sgVecType(cfg)}(0.0)`;
    const L = rowsInFlight(cfg);
    const KK = K * K;
    const dyRow = (t: number, row: string) =>
      `d${t} = ${Z}; { let r = ${row}; if (r < oh1 && owOk) { d${t} = dy[((n * u.OH + r) * u.OW + ow) * u.cv + cg]; } }`;
    const consume = (p: number) => streamRow(cfg, 'x', p, (t, kh, kw) => `g${kh * K + kw} = fma(xk, d${t}, g${kh * K + kw});`);
    const rotate = [...Array.from({ length: L - 1 }, (_, t) => `d${t} = d${t + 1};`), dyRow(L - 1, `oh + ${L}u`)];
    const stores = Array.from(
      { length: KK },
      (_, i) => `{ let s = subgroupAdd(g${i}); if (sid == ${i % DW_SG}u) { partial[(p * ${KK}u + ${i}u) * u.cv + cg] = s; } }`,
    );
    return wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}, @builtin(subgroup_invocation_id) sid: u32) {
  let unit = ${flatIndex(CONV_WG)} / ${DW_SG}u;
  if (unit >= u.units) { return; }
${decodeIndex('unit', [['cg', 'cv'], ['strip', 'strips']], 'n')}
  ${sgInputBnLoads(cfg)}
  ${Array.from({ length: KK }, (_, i) => `var g${i} = ${Z};`).join(' ')}
  ${Array.from({ length: L }, (_, t) => `var d${t} = ${Z};`).join(' ')}
  let oh0 = strip * u.rowsPerStrip;
  let oh1 = min(oh0 + u.rowsPerStrip, u.OH);
  for (var blk = 0u; blk < u.blocks; blk++) {
    let ow = blk * ${DW_SG}u + sid;
    let owOk = ow < u.OW;
    let iw0 = i32(blk * ${DW_SG * S}u) - u.padLeft;
    let iw = iw0 + i32(sid);
    ${spanColumnChecks(spanRegisters(cfg))}
    ${Array.from({ length: L }, (_, t) => dyRow(t, `oh0 + ${t}u`)).join('\n    ')}
    var oh = oh0;
    ${Array.from({ length: Math.max(0, K - S) }, (_, p) => consume(p)).join('\n    ')}
    for (; oh < oh1; oh++) {
      ${Array.from({ length: Math.min(S, K) }, (_, q) => consume(Math.max(0, K - S) + q)).join('\n      ')}
      ${rotate.join('\n      ')}
    }
  }
  let p = n * u.strips + strip;
  ${stores.join('\n  ')}
}`;
  },
});
