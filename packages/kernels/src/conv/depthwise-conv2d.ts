// Depthwise 2D convolution forward, NHWC input, filter [k,k,C], fused epilogue:
// y[n,oh,ow,c] = epilogue(sum over (kh,kw) of x[n, oh*s - padTop + kh, ow*s - padLeft + kw, c] * w[kh,kw,c]).
// Best form on lavapipe (LAVAPIPE.md): each invocation computes a vec4 of channels x a run of `run`
// outputs along W, loading each input column of the window once and each filter tap once. Scalar
// fallback (one channel) when C % 4 != 0. Taps outside the input read 0.
import { defineKernel } from '../define-kernel.js';
import { epilogueKey, epilogueWgsl } from '../epilogue.js';
import { MAIN_1D, flatIndex, wgsl } from '../wgsl.js';
import { CONV_WG, type Conv2dConfig, convTileKey, convVecType, convZero, tapsByInputColumn, validateConvTile } from './conv2d.js';

export type DepthwiseConv2dConfig = Conv2dConfig;

export const depthwiseConv2d = defineKernel({
  name: 'depthwise-conv2d',
  uniforms: {
    total: 'u32', // invocations = N * OH * runs * cv
    cv: 'u32', // channels in units of the bound type (C/4 for vec4)
    H: 'u32',
    W: 'u32',
    OH: 'u32',
    OW: 'u32',
    runs: 'u32', // ceil(OW / run)
    padTop: 'i32',
    padLeft: 'i32',
  },
  bindings: {
    x: { access: 'read', type: convVecType },
    w: { access: 'read', type: convVecType },
    scale: 'read',
    shift: 'read',
    y: { access: 'read_write', type: convVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  key: (cfg: DepthwiseConv2dConfig) => `${convTileKey(cfg)}|${epilogueKey(cfg.epilogue)}`,
  body: (cfg: DepthwiseConv2dConfig) => {
    validateConvTile(cfg);
    const { k: K, stride: S, run: R } = cfg;
    const T = convVecType(cfg);
    const Z = convZero(cfg);
    const taps = tapsByInputColumn(cfg);
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const ws = Array.from({ length: K }, (_, kw) => `    let w${kw} = w[${kh * K + kw}u * u.cv + c];`);
      const fmas = taps.map(
        (pairs, j) =>
          `    { let iu = u32(iw0 + ${j}); let xv = select(${Z}, x[(rb + min(iu, u.W - 1u)) * u.cv + c], iu < u.W);` +
          pairs.map(({ r, kw }) => ` acc${r} = fma(xv, w${kw}, acc${r});`).join('') +
          ' }',
      );
      rows.push(`  {
  let ih = ih0 + ${kh};
  if (u32(ih) < u.H) {
    let rb = (n * u.H + u32(ih)) * u.W;
${ws.join('\n')}
${fmas.join('\n')}
  }
  }`);
    }
    const ep = cfg.vec4 ? 'epilogue4' : 'epilogue';
    const ch = cfg.vec4 ? 'c * 4u' : 'c';
    return wgsl`
${epilogueWgsl(cfg.epilogue)}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(CONV_WG)};
  if (i >= u.total) { return; }
  let c = i % u.cv;
  var t = i / u.cv;
  let run = t % u.runs;
  t = t / u.runs;
  let oh = t % u.OH;
  let n = t / u.OH;
  let ow0 = run * ${R}u;
  let ih0 = i32(oh * ${S}u) - u.padTop;
  let iw0 = i32(ow0 * ${S}u) - u.padLeft;
${Array.from({ length: R }, (_, r) => `  var acc${r}: ${T} = ${Z};`).join('\n')}
${rows.join('\n')}
  let ob = (n * u.OH + oh) * u.OW + ow0;
  // All epilogues before the stores, so the compiler can share their scale/shift loads.
${Array.from({ length: R }, (_, r) => `  let o${r} = ${ep}(acc${r}, ${ch});`).join('\n')}
${Array.from({ length: R }, (_, r) => `  if (ow0 + ${r}u < u.OW) { y[(ob + ${r}u) * u.cv + c] = o${r}; }`).join('\n')}
}`;
  },
});
