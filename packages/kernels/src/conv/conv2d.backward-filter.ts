// Full 2D convolution, gradient w.r.t. the filter: dw[kh,kw,ci,co] = sum over (n,oh,ow) of
// x[n, oh*s - padTop + kh, ow*s - padLeft + kw, ci] * dy[n,oh,ow,co].
// The reduction over N*OH*OW is split into P partitions (contiguous ranges of "items" = runs of `run`
// outputs along W), each invocation accumulating all k*k taps for one input channel and one vec4 of
// output channels over one partition, and writing partial sums [P,k,k,cin,cout]. A second small kernel
// (`convFilterReduce`, shared with the depthwise filter gradient) sums the partials. No atomics on
// floats, no barriers. Any epilogue's backward must be applied to dy by the caller first.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl } from '../wgsl.js';
import { CONV_WG, type ConvTileConfig, convTileKey, convVecType, convZero, tapsByInputColumn, validateConvTile } from './conv2d.js';

/** Loop over this partition's items, carrying (n, oh, run) instead of dividing per item. */
export function itemLoop(R: number, S: number, inner: string): string {
  return `
  let start = p * u.per;
  let end = min(start + u.per, u.items);
  var run = start % u.runs;
  var tt = start / u.runs;
  var oh = tt % u.OH;
  var n = tt / u.OH;
  for (var it = start; it < end; it++) {
    let ow0 = run * ${R}u;
    let ih0 = i32(oh * ${S}u) - u.padTop;
    let iw0 = i32(ow0 * ${S}u) - u.padLeft;
    let ob = (n * u.OH + oh) * u.OW + ow0;
${inner}
    run++;
    if (run == u.runs) {
      run = 0u;
      oh++;
      if (oh == u.OH) { oh = 0u; n++; }
    }
  }`;
}

export const conv2dBackwardFilter = defineKernel({
  name: 'conv2d.backward-filter',
  uniforms: {
    total: 'u32', // invocations = P * cin * cov
    cin: 'u32',
    cov: 'u32', // output channels in units of the bound type
    H: 'u32',
    W: 'u32',
    OH: 'u32',
    OW: 'u32',
    runs: 'u32', // ceil(OW / run)
    padTop: 'i32',
    padLeft: 'i32',
    items: 'u32', // N * OH * runs
    per: 'u32', // items per partition, ceil(items / P)
  },
  bindings: {
    x: 'read',
    dy: { access: 'read', type: convVecType },
    partial: { access: 'read_write', type: convVecType }, // [P, k, k, cin, cout]
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  key: (cfg: ConvTileConfig) => convTileKey(cfg),
  body: (cfg: ConvTileConfig) => {
    validateConvTile(cfg);
    const { k: K, stride: S, run: R } = cfg;
    const T = convVecType(cfg);
    const Z = convZero(cfg);
    const splat = (v: string) => (cfg.vec4 ? `vec4<f32>(${v})` : v);
    const taps = tapsByInputColumn(cfg);
    const dys = Array.from(
      { length: R },
      (_, r) => `    let g${r} = select(${Z}, dy[(ob + min(${r}u, u.OW - 1u - ow0)) * u.cov + co], ow0 + ${r}u < u.OW);`,
    );
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const fmas = taps.map(
        (pairs, j) =>
          `      { let iu = u32(iw0 + ${j}); let xv = ${splat(`select(0.0, x[(rb + min(iu, u.W - 1u)) * u.cin + ci], iu < u.W)`)};` +
          pairs.map(({ r, kw }) => ` a${kh}_${kw} = fma(xv, g${r}, a${kh}_${kw});`).join('') +
          ' }',
      );
      rows.push(`    {
    let ih = ih0 + ${kh};
    if (u32(ih) < u.H) {
      let rb = (n * u.H + u32(ih)) * u.W;
${fmas.join('\n')}
    }
    }`);
    }
    const accs: string[] = [];
    const stores: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      for (let kw = 0; kw < K; kw++) {
        accs.push(`  var a${kh}_${kw}: ${T} = ${Z};`);
        stores.push(`  partial[((p * ${K * K}u + ${kh * K + kw}u) * u.cin + ci) * u.cov + co] = a${kh}_${kw};`);
      }
    }
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
