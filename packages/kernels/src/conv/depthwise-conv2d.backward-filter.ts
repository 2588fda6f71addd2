// Depthwise 2D convolution, gradient w.r.t. the filter:
// dw[kh,kw,c] = sum over (n,oh,ow) of x[n, oh*s - padTop + kh, ow*s - padLeft + kw, c] * dy[n,oh,ow,c].
// The reduction over N*OH*OW is split into P partitions (contiguous ranges of runs of `run` outputs
// along W); each invocation accumulates all k*k taps for a vec4 of channels (scalar when C % 4 != 0)
// over one partition and writes partial sums [P,k,k,C]; `convFilterReduce` then sums the partials
// (core skips it when P = 1 by writing straight into dw). No atomics, no barriers. Any epilogue's
// backward must be applied to dy by the caller first. With `inputBn` x is a BatchNorm's raw input,
// normalized (+ReLU6) as it loads (input-bn.ts).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl, vecCount } from '../wgsl.js';
import {
  CONV_WG,
  convChannels,
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
import { INPUT_BN_BINDINGS, inputBnApply, inputBnLoads } from './input-bn.js';

/** The register-blocked filter gradient's configuration: the tile, and whether x is a BatchNorm's raw input (input-bn.ts). */
export type DepthwiseFilterConfig = ConvTileConfig & { inputBn?: boolean };

/** The depthwise filter gradient's dispatch and its partition count P (the op sizes the partials with it). */
export function depthwiseFilterDispatch(cfg: ConvTileConfig, s: ConvShapes) {
  const cv = vecCount(cfg, s.cin);
  const d = convFilterDispatch(cfg, s, cv);
  return { grid: d.grid, parts: d.parts, uniforms: { ...d.uniforms, cv } };
}

export const depthwiseConv2dBackwardFilter = defineKernel({
  name: 'depthwise-conv2d.backward-filter',
  uniforms: { ...CONV_FILTER_UNIFORMS, cv: 'u32' },
  bindings: {
    x: { access: 'read', type: convVecType },
    dy: { access: 'read', type: convVecType },
    ...INPUT_BN_BINDINGS,
    partial: { access: 'read_write', type: convVecType }, // [P, k, k, C]
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  dispatch: (cfg: DepthwiseFilterConfig, s: ConvShapes) => {
    const { grid, uniforms } = depthwiseFilterDispatch(cfg, s);
    return { grid, uniforms };
  },
  key: (cfg: DepthwiseFilterConfig) => `${convTileKey(cfg)}${cfg.inputBn ? '+bn' : ''}`,
  body: (cfg: DepthwiseFilterConfig) => {
    validateConvTile(cfg);
    const { k: K, stride: S, run: R } = cfg;
    const Z = convZero(cfg);
    const taps = tapsByInputColumn(cfg);
    const dys = filterDyLoads(cfg, 'c', 'cv');
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const fmas = taps.map((pairs, j) =>
        tapBlock(
          '      ',
          `let iu = u32(iw0 + ${j}); let xv = select(${Z}, ${inputBnApply(cfg.inputBn, 'x[(rb + min(iu, u.W - 1u)) * u.cv + c]', convVecType(cfg))}, iu < u.W);`,
          pairs,
          ({ r, kw }) => [`a${kh}_${kw}`, 'xv', `g${r}`],
        ),
      );
      rows.push(filterRow(kh, fmas.join('\n')));
    }
    const { accs, stores } = filterAccumulators(cfg, (tap) => `(p * ${K * K}u + ${tap}u) * u.cv + c`);
    return wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(CONV_WG)};
  if (i >= u.total) { return; }
  let c = i % u.cv;
  let p = i / u.cv;
  ${inputBnLoads(cfg.inputBn, (arr) => convChannels(cfg, arr))}
${accs.join('\n')}
${itemLoop(R, S, [...dys, ...rows].join('\n'))}
${stores.join('\n')}
}`;
  },
});
