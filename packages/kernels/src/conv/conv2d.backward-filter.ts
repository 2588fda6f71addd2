// Full 2D convolution, gradient w.r.t. the filter: dw[kh,kw,ci,co] = sum over (n,oh,ow) of
// x[n, oh*s - padTop + kh, ow*s - padLeft + kw, ci] * dy[n,oh,ow,co].
// The reduction over N*OH*OW is split into P partitions (contiguous ranges of "items" = runs of `run`
// outputs along W), each invocation accumulating all k*k taps for one input channel and one vec4 of
// output channels over one partition, and writing partial sums [P,k,k,cin,cout]. A second small kernel
// (`convFilterReduce`, shared with the depthwise filter gradient) sums the partials. No atomics on
// floats, no barriers. Any epilogue's backward must be applied to dy by the caller first.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl, vecCount, grid1d, ceilDiv } from '../wgsl.js';
import {
  CONV_WG,
  type ConvTileConfig,
  convTileKey,
  convVecType,
  convZero,
  filterAccumulators,
  filterDyLoads,
  filterRow,
  itemLoop,
  tapBlock,
  tapsByInputColumn,
  validateConvTile,
  convFilterDispatch,
  type ConvShapes,
  CONV_FILTER_UNIFORMS,
} from './conv-common.js';

// Moved to conv-common.ts; re-exported for existing importers.
export { itemLoop } from './conv-common.js';

/** The filter gradient's dispatch and its partition count P (the op sizes the partials with it). */
export function conv2dFilterDispatch(cfg: ConvTileConfig, s: ConvShapes) {
  const cov = vecCount(cfg, s.cout);
  const d = convFilterDispatch(cfg, s, s.cin * cov);
  return { grid: d.grid, parts: d.parts, uniforms: { ...d.uniforms, cin: s.cin, cov } };
}

export const conv2dBackwardFilter = defineKernel({
  name: 'conv2d.backward-filter',
  uniforms: { ...CONV_FILTER_UNIFORMS, cin: 'u32', cov: 'u32' },
  bindings: {
    x: 'read',
    dy: { access: 'read', type: convVecType },
    partial: { access: 'read_write', type: convVecType }, // [P, k, k, cin, cout]
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  dispatch: (cfg: ConvTileConfig, s: ConvShapes) => {
    const { grid, uniforms } = conv2dFilterDispatch(cfg, s);
    return { grid, uniforms };
  },
  key: (cfg: ConvTileConfig) => convTileKey(cfg),
  body: (cfg: ConvTileConfig) => {
    validateConvTile(cfg);
    const { k: K, stride: S, run: R } = cfg;
    const splat = (v: string) => (cfg.vec4 ? `vec4<f32>(${v})` : v);
    const taps = tapsByInputColumn(cfg);
    const dys = filterDyLoads(cfg, 'co', 'cov');
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const fmas = taps.map((pairs, j) =>
        tapBlock(
          '      ',
          `let iu = u32(iw0 + ${j}); let xv = ${splat(`select(0.0, x[(rb + min(iu, u.W - 1u)) * u.cin + ci], iu < u.W)`)};`,
          pairs,
          ({ r, kw }) => [`a${kh}_${kw}`, 'xv', `g${r}`],
        ),
      );
      rows.push(filterRow(kh, fmas.join('\n')));
    }
    const { accs, stores } = filterAccumulators(cfg, (tap) => `((p * ${K * K}u + ${tap}u) * u.cin + ci) * u.cov + co`);
    return wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(CONV_WG)};
  if (i >= u.total) { return; }
  let co = i % u.cov;
  let t = i / u.cov;
  let ci = t % u.cin;
  let p = t / u.cin;
${accs.join('\n')}
${itemLoop(R, S, [...dys, ...rows].join('\n'))}
${stores.join('\n')}
}`;
  },
});

export interface ConvFilterReduceConfig {
  vec4: boolean;
}

/** out[j] = sum over p < parts of partial[p * n + j] (n in units of the bound type). */
export const convFilterReduce = defineKernel({
  name: 'conv2d.backward-filter.reduce',
  uniforms: { n: 'u32', parts: 'u32' },
  bindings: {
    partial: { access: 'read', type: convVecType },
    out: { access: 'read_write', type: convVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  /** Sums the P partials of a filter gradient of `size` f32 values. */
  dispatch: (cfg: ConvFilterReduceConfig, s: { size: number; parts: number }) => {
    const n = vecCount(cfg, s.size);
    return { grid: grid1d(ceilDiv(n, CONV_WG)), uniforms: { n, parts: s.parts } };
  },
  key: (cfg: ConvFilterReduceConfig) => (cfg.vec4 ? 'v4' : 'f1'),
  body: (cfg: ConvFilterReduceConfig) => {
    const T = convVecType(cfg);
    const Z = convZero(cfg);
    return wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let j = ${flatIndex(CONV_WG)};
  if (j >= u.n) { return; }
  var s0: ${T} = ${Z};
  var s1: ${T} = ${Z};
  var p = 0u;
  for (; p + 1u < u.parts; p += 2u) {
    s0 += partial[p * u.n + j];
    s1 += partial[(p + 1u) * u.n + j];
  }
  if (p < u.parts) { s0 += partial[p * u.n + j]; }
  out[j] = s0 + s1;
}`;
  },
});
