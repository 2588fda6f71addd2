// Full 2D convolution forward (MobileNetV2's stem: 3x3, Cin=3, Cout=32, stride 2), NHWC input,
// HWIO filter [k,k,cin,cout], fused epilogue. Register-blocked: each invocation computes a run of
// `run` outputs along W for one vec4 of output channels (scalar when cout % 4 != 0), so each filter
// load serves `run` outputs and each input load serves up to k taps x 4 channels. Taps outside the
// input read 0 (padding is given as padTop/padLeft uniforms). The kernel size and stride are
// compile-time constants: the tap loops are unrolled by the generator.
import { defineKernel } from '../define-kernel.js';
import { type EpilogueConfig, epilogueKey, epilogueWgsl } from '../epilogue.js';
import { MAIN_1D, flatIndex, wgsl } from '../wgsl.js';

/** Workgroup size of every conv-family kernel (lavapipe: >= 64 invocations per workgroup). */
export const CONV_WG = 64;

/** Specialization shared by the conv-family kernels. */
export interface ConvTileConfig {
  /** Square kernel size (3 for MobileNetV2). */
  k: number;
  /** Stride (1 or 2). */
  stride: number;
  /** Outputs along W per invocation (backward-input: inputs along W; a multiple of the stride). */
  run: number;
  /** Bind channel arrays as vec4<f32> (the channel count must be a multiple of 4). */
  vec4: boolean;
}

export interface Conv2dConfig extends ConvTileConfig {
  epilogue: EpilogueConfig;
}

export const convTileKey = (c: ConvTileConfig) => `k${c.k}s${c.stride}r${c.run}${c.vec4 ? 'v4' : 'f1'}`;
export const convVecType = (cfg: { vec4: boolean }) => (cfg.vec4 ? 'vec4<f32>' : 'f32');
export const convZero = (cfg: { vec4: boolean }) => (cfg.vec4 ? 'vec4<f32>(0.0)' : '0.0');

// ---- code-generation helpers shared by the conv kernels (not WGSL library code) -----------------

/** Number of input columns a run of `run` outputs reads: (run-1)*stride + k. */
export const convSpan = (c: ConvTileConfig) => (c.run - 1) * c.stride + c.k;

/**
 * Forward gather: for input column offset j (0..span-1, relative to the run's first input column),
 * the (output r, tap kw) pairs with r*stride + kw == j.
 */
export function tapsByInputColumn(c: ConvTileConfig): { r: number; kw: number }[][] {
  const out: { r: number; kw: number }[][] = Array.from({ length: convSpan(c) }, () => []);
  for (let r = 0; r < c.run; r++) for (let kw = 0; kw < c.k; kw++) out[r * c.stride + kw].push({ r, kw });
  return out;
}

/**
 * Backward-input gather with runs aligned to the stride (see depthwise-conv2d.backward-input.ts):
 * input r of the run receives output column (base + d) through tap kw exactly when r - kw = d*stride.
 * Returns, for each needed output offset d, the (r, kw) pairs.
 */
export function tapsByOutputOffset(c: ConvTileConfig): { d: number; pairs: { r: number; kw: number }[] }[] {
  const m = new Map<number, { r: number; kw: number }[]>();
  for (let r = 0; r < c.run; r++) {
    for (let kw = 0; kw < c.k; kw++) {
      const diff = r - kw;
      if (((diff % c.stride) + c.stride) % c.stride !== 0) continue;
      const d = diff / c.stride;
      if (!m.has(d)) m.set(d, []);
      m.get(d)!.push({ r, kw });
    }
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([d, pairs]) => ({ d, pairs }));
}

/** WGSL condition + output row for tap row kh in a backward-input kernel: oh = (ih + padTop - kh) / stride. */
export function backwardRow(c: ConvTileConfig, kh: number): { cond: string; oh: string } {
  const th = `(i32(ih) + u.padTop - ${kh})`;
  if (c.stride === 1) return { cond: `u32${th} < u.OH`, oh: `u32${th}` };
  if (c.stride === 2) return { cond: `(${th} >= 0) && ((${th} & 1) == 0) && (u32(${th} >> 1u) < u.OH)`, oh: `u32(${th} >> 1u)` };
  return { cond: `(${th} >= 0) && ((${th} % ${c.stride}) == 0) && (u32(${th} / ${c.stride}) < u.OH)`, oh: `u32(${th} / ${c.stride})` };
}

export function validateConvTile(c: ConvTileConfig): void {
  if (!(Number.isInteger(c.k) && c.k >= 1 && Number.isInteger(c.stride) && c.stride >= 1 && Number.isInteger(c.run) && c.run >= 1)) {
    throw new Error(`conv kernel: bad tile config ${JSON.stringify(c)}`);
  }
}

export const conv2d = defineKernel({
  name: 'conv2d',
  uniforms: {
    total: 'u32', // invocations = N * OH * runs * cov
    cin: 'u32',
    cov: 'u32', // output channels in units of the bound type (cout/4 for vec4)
    H: 'u32',
    W: 'u32',
    OH: 'u32',
    OW: 'u32',
    runs: 'u32', // ceil(OW / run)
    padTop: 'i32',
    padLeft: 'i32',
  },
  bindings: {
    x: 'read',
    w: { access: 'read', type: convVecType },
    scale: 'read',
    shift: 'read',
    y: { access: 'read_write', type: convVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  key: (cfg: Conv2dConfig) => `${convTileKey(cfg)}|${epilogueKey(cfg.epilogue)}`,
  body: (cfg: Conv2dConfig) => {
    validateConvTile(cfg);
    const { k: K, stride: S, run: R } = cfg;
    const T = convVecType(cfg);
    const Z = convZero(cfg);
    const splat = (v: string) => (cfg.vec4 ? `vec4<f32>(${v})` : v);
    const taps = tapsByInputColumn(cfg);
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const cols = taps.map((_, j) => `    let iu${j} = u32(iw0 + ${j}); let ok${j} = iu${j} < u.W; let px${j} = (rb + min(iu${j}, u.W - 1u)) * u.cin;`);
      const ws = Array.from({ length: K }, (_, kw) => `      let w${kw} = w[(${kh * K + kw}u * u.cin + ci) * u.cov + co];`);
      const fmas = taps.map(
        (pairs, j) =>
          `      { let xv = ${splat(`select(0.0, x[px${j} + ci], ok${j})`)};` +
          pairs.map(({ r, kw }) => ` acc${r} = fma(xv, w${kw}, acc${r});`).join('') +
          ' }',
      );
      rows.push(`  {
    let ih = ih0 + ${kh};
    if (u32(ih) < u.H) {
    let rb = (n * u.H + u32(ih)) * u.W;
${cols.join('\n')}
    for (var ci = 0u; ci < u.cin; ci++) {
${ws.join('\n')}
${fmas.join('\n')}
    }
    }
  }`);
    }
    const ep = cfg.vec4 ? 'epilogue4' : 'epilogue';
    const ch = cfg.vec4 ? 'co * 4u' : 'co';
    return wgsl`
${epilogueWgsl(cfg.epilogue)}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(CONV_WG)};
  if (i >= u.total) { return; }
  let co = i % u.cov;
  var t = i / u.cov;
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
${Array.from({ length: R }, (_, r) => `  if (ow0 + ${r}u < u.OW) { y[(ob + ${r}u) * u.cov + co] = o${r}; }`).join('\n')}
}`;
  },
});
