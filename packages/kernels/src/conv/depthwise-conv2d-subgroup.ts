// Depthwise 2D convolution forward and backward-input, "subgroup" form for adapters whose
// subgroups are 8 lanes (lavapipe on AVX2/AVX-512). Same math and fused epilogue as
// depthwise-conv2d.ts:
//   y[n,oh,ow,c] = epilogue(sum over (kh,kw) of x[n, oh*s - padTop + kh, ow*s - padLeft + kw, c] * w[kh,kw,c]).
//
// Why (lavapipe, LAVAPIPE.md): a storage load or store with a lane-varying address is a per-lane
// loop there (mask test, descriptor and size reload, bounds check, scalar load, insert: ~13 x86
// instructions per lane and component), so time goes with the number of (lane, component) accesses;
// vec4 lanes still measured ~30 % cheaper per element than scalar ones. The 'strip' form cannot use
// vec4 lanes: 9 vec4 weights (36 vector registers of 8 lanes) plus the accumulators do not fit the 32
// registers, and spilled gathers are assembled through the stack. Here the 8 lanes of a
// subgroup are 8 consecutive output columns of the same channel group, and:
// - each lane loads only its own input column of a row (+ the few halo columns, masked), and gets its
//   neighbours' columns by subgroupShuffle / subgroupShuffleDown / Up: llvmpipe compiles these to one
//   vpermd / valignd per component (checked with GALLIVM_DEBUG=asm), nearly free next to a gather;
// - the k*k weights of the group's channels are spread over the lanes (lane l of register r holds
//   tap 8r + l: 2 vec4 registers for 3x3) and taken by subgroupBroadcast with a constant lane;
// - rows stream down a strip as in the 'strip' form: each input row is loaded once per strip and
//   feeds the accumulators of every output row that uses it, so per output (stride 1) one lane loads
//   ~1.25 columns (8 own + 2 halo per 8 outputs) and stores one, all as vec4 of channels.
// Stride-2 backward-input has its own layout (stridedBackwardBody: lanes are 8 neighbouring dx
// columns). Rows and columns outside the input read 0 (not loaded). A subgroup leaves as a whole, so
// the shuffles always see 8 active lanes (the dispatch covers whole subgroups).
import { defineKernel } from '../define-kernel.js';
import { type EpilogueConfig, epilogueKey } from '../epilogue.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, wgsl } from '../wgsl.js';
import { CONV_WG, type ConvShapes, decodeIndex } from './conv-common.js';
import { INPUT_BN_BINDINGS, inputBnApply, inputBnLoads } from './input-bn.js';
import { stripPlan, streamDyRows } from './depthwise-conv2d-strip.js';

/** Lanes per subgroup the form is written for (the adapter's subgroup size must be exactly this). */
export const DW_SG = 8;

/**
 * Entry point of both subgroup kernels: a unit is one subgroup (8 lanes) working on one vec of
 * channels (cg), one block of 8 columns (blk), one strip of rows of one sample (n).
 */
const UNIT_MAIN = `@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}, @builtin(subgroup_invocation_id) sid: u32) {
  let unit = ${flatIndex(CONV_WG)} / ${DW_SG}u;
  if (unit >= u.units) { return; }
${decodeIndex('unit', [['cg', 'cv'], ['blk', 'blocks'], ['strip', 'strips']], 'n')}`;

/** Specialization of the subgroup kernels. */
export interface DepthwiseSubgroupConfig {
  /** Square kernel size (at most 7). */
  k: number;
  /** Stride (1 or 2). */
  stride: number;
  /** Channels per lane: 4 (C % 4 == 0), 2 (C % 2 == 0) or 1. */
  vec: 1 | 2 | 4;
  /** Forward and filter gradient: the input is a BatchNorm's raw input, normalized as it loads (input-bn.ts). */
  inputBn?: boolean;
}

export interface DepthwiseSubgroupForwardConfig extends DepthwiseSubgroupConfig {
  epilogue: EpilogueConfig;
}

/** WGSL type of one lane's channels. */
export const sgVecType = (c: { vec: number }) => (c.vec === 1 ? 'f32' : `vec${c.vec}<f32>`);
const sgZero = (c: { vec: number }) => `${sgVecType(c)}(0.0)`;

/** This lane's channels of a per-channel f32 array `arr` (bound as scalars). */
export const laneChannels = (c: { vec: number }, arr: string) =>
  c.vec === 1 ? `${arr}[cg]` : `${sgVecType(c)}(${Array.from({ length: c.vec }, (_, i) => `${arr}[cg * ${c.vec}u + ${i}u]`).join(', ')})`;

/** The inputBn parameters of this lane's channels, and their application to a loaded value (input-bn.ts). */
export const sgInputBnLoads = (c: DepthwiseSubgroupConfig) => inputBnLoads(c.inputBn, (arr) => laneChannels(c, arr));
const sgInputBnApply = (c: DepthwiseSubgroupConfig, v: string) => inputBnApply(c.inputBn, v, sgVecType(c));

export const depthwiseSubgroupKey = (c: DepthwiseSubgroupConfig) => `k${c.k}s${c.stride}v${c.vec}${c.inputBn ? '+bn' : ''}`;

export function validateSubgroup(name: string, c: DepthwiseSubgroupConfig): void {
  if (!(Number.isInteger(c.k) && c.k >= 1 && c.k <= 7 && (c.stride === 1 || c.stride === 2) && [1, 2, 4].includes(c.vec))) {
    throw new Error(`${name}: bad config ${JSON.stringify(c)}`);
  }
}

/** Channels per lane for C channels: the widest of 4, 2, 1 dividing C. */
export const subgroupVec = (C: number): 1 | 2 | 4 => (C % 4 === 0 ? 4 : C % 2 === 0 ? 2 : 1);

// Subgroups leave as a whole (the unit index is uniform per subgroup), which WGSL's uniformity
// analysis cannot see: its subgroup check is turned off for these kernels (as for matmul's sharing).
export const SUBGROUP_PREAMBLE = 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);';

/**
 * One subgroup per (channel group, block of 8 output columns, strip of output rows, sample),
 * channel groups innermost.
 */
export function depthwiseSubgroupDispatch(cfg: DepthwiseSubgroupConfig, s: ConvShapes) {
  const cv = s.cin / cfg.vec;
  if (!Number.isInteger(cv)) throw new Error(`depthwise subgroup: ${s.cin} channels are not a multiple of ${cfg.vec}`);
  const blocks = ceilDiv(s.OW, DW_SG);
  const { strips, rowsPerStrip } = stripPlan(s.OH, s.N * blocks * cv * DW_SG);
  const units = s.N * strips * blocks * cv;
  return {
    grid: grid1d(ceilDiv(units * DW_SG, CONV_WG)),
    uniforms: { units, H: s.H, W: s.W, OH: s.OH, OW: s.OW, blocks, strips, rowsPerStrip, padTop: s.padTop, padLeft: s.padLeft, cv },
  };
}

export const SUBGROUP_UNIFORMS = {
  units: 'u32',
  H: 'u32',
  W: 'u32',
  OH: 'u32',
  OW: 'u32',
  blocks: 'u32',
  strips: 'u32',
  rowsPerStrip: 'u32',
  padTop: 'i32',
  padLeft: 'i32',
  cv: 'u32',
} as const;

export const depthwiseConv2dSubgroup = defineKernel({
  name: 'depthwise-conv2d-subgroup',
  uniforms: SUBGROUP_UNIFORMS,
  bindings: {
    x: { access: 'read', type: sgVecType },
    w: { access: 'read', type: sgVecType },
    scale: 'read',
    shift: 'read',
    ...INPUT_BN_BINDINGS,
    y: { access: 'read_write', type: sgVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  preamble: () => SUBGROUP_PREAMBLE,
  dispatch: (cfg: DepthwiseSubgroupForwardConfig, s: ConvShapes) => depthwiseSubgroupDispatch(cfg, s),
  key: (cfg: DepthwiseSubgroupForwardConfig) => `${depthwiseSubgroupKey(cfg)}|${epilogueKey(cfg.epilogue)}`,
  body: (cfg: DepthwiseSubgroupForwardConfig) => {
    validateSubgroup('depthwise-conv2d-subgroup', cfg);
    return subgroupForwardBody(cfg, false);
  },
});

/** Lane registers a row's input span needs: the span is 7*s + k columns from iw0 (see subgroupForwardBody). */
export const spanRegisters = (c: { k: number; stride: number }) => ceilDiv((DW_SG - 1) * c.stride + c.k, DW_SG);

/** `ok<j>`: whether span register j's column (iw + 8j) of this lane is inside the input. */
export const spanColumnChecks = (J: number) => Array.from({ length: J }, (_, j) => `let ok${j} = u32(iw + ${DW_SG * j}) < u.W;`).join('\n  ');

/**
 * Loads of one input row's span into v0..v<J-1> from `src` at `base` (this lane's column iw of the
 * row), 0 outside the input (`rok`: the row is inside) and on the lanes past the span's end.
 */
export function spanRowLoads(c: DepthwiseSubgroupConfig, src: string): string[] {
  const load = (j: number) => `${src}[u32(base + ${DW_SG * j} * i32(u.cv))]`;
  const span = (DW_SG - 1) * c.stride + c.k;
  const J = spanRegisters(c);
  const lastLanes = span - DW_SG * (J - 1);
  return Array.from({ length: J }, (_, j) => {
    const lanesOk = j === J - 1 && lastLanes < DW_SG ? ` && sid < ${lastLanes}u` : '';
    return `var v${j} = ${sgZero(c)}; if (rok && ok${j}${lanesOk}) { v${j} = ${sgInputBnApply(c, load(j))}; }`;
  });
}

/**
 * Span column g = sid*S + kw for this lane (tap kw of its output column), from the row's registers
 * v0..v<J-1>: lane g % 8 of register g / 8, by subgroup shuffles.
 */
export function spanTapValue(S: number, J: number, kw: number): string {
  if (S === 1) {
    // g = sid + kw: register 0 shifted down by kw, the top kw lanes from register 1 shifted up.
    if (kw === 0) return 'v0';
    if (J === 1) return `subgroupShuffleDown(v0, ${kw}u)`;
    return `select(subgroupShuffleUp(v1, ${DW_SG - kw}u), subgroupShuffleDown(v0, ${kw}u), sid < ${DW_SG - kw}u)`;
  }
  const idx = `(sid * ${S}u + ${kw}u)`;
  // Registers that can hold g for some lane: g in [kw, 7*S + kw].
  const regs: number[] = [];
  for (let j = 0; j < J; j++) if (DW_SG * j <= (DW_SG - 1) * S + kw && DW_SG * (j + 1) > kw) regs.push(j);
  let e = `subgroupShuffle(v${regs[regs.length - 1]}, ${idx} & 7u)`;
  for (let i = regs.length - 2; i >= 0; i--) e = `select(${e}, subgroupShuffle(v${regs[i]}, ${idx} & 7u), ${idx} < ${DW_SG * (regs[i] + 1)}u)`;
  return e;
}

/** Output rows a streamed input row feeds: floor((k-1)/s) + 1. */
export const rowsInFlight = (c: { k: number; stride: number }) => Math.floor((c.k - 1) / c.stride) + 1;

/**
 * Consumes input row ih = oh*s - padTop + p of `src` (rows stream down a strip, see
 * subgroupForwardBody): loads its span once, then for each filter column kw takes this lane's tap
 * value `xk` by shuffles and emits `fma(t, kh, kw)` for every output row oh + t it feeds through filter
 * row kh = p - s*t.
 */
export function streamRow(c: DepthwiseSubgroupConfig, src: string, p: number, fma: (t: number, kh: number, kw: number) => string): string {
  const { k: K, stride: S } = c;
  const J = spanRegisters(c);
  const sets: { t: number; kh: number }[] = [];
  for (let t = 0; t < rowsInFlight(c); t++) if (p - S * t >= 0 && p - S * t < K) sets.push({ t, kh: p - S * t });
  const taps: string[] = [];
  for (let kw = 0; kw < K; kw++) taps.push(`{ let xk = ${spanTapValue(S, J, kw)}; ${sets.map(({ t, kh }) => fma(t, kh, kw)).join(' ')} }`);
  return `{
      let ih = i32(oh * ${S}u) - u.padTop + ${p};
      let rok = u32(ih) < u.H;
      let base = ((i32(n * u.H) + ih) * i32(u.W) + iw) * i32(u.cv) + i32(cg);
      ${spanRowLoads(c, src).join('\n      ')}
      ${taps.join('\n      ')}
    }`;
}

/**
 * WGSL of the streaming subgroup forward; with `flip`, the stride-1 backward-input (dy as input, dx
 * as output, the filter rotated by 180 degrees, no epilogue; the dispatch swaps the sizes and uses
 * padding k-1-pad).
 *
 * Lane `sid` owns output column ow = 8*blk + sid. The subgroup's input span along W is
 * 7*s + k columns from iw0 = 8*blk*s - padLeft: register j holds column iw0 + 8j + sid (the last one
 * loaded only by the lanes that the span needs). Tap kw of lane sid reads span column g = sid*s + kw,
 * i.e. lane g % 8 of register g / 8. Rows stream as in stripForwardBody: L = floor((k-1)/s) + 1
 * output rows in flight, accumulator a<t> for row oh + t; input row offset p feeds a<t> through
 * filter row p - s*t.
 */
export function subgroupForwardBody(cfg: DepthwiseSubgroupConfig & { epilogue?: EpilogueConfig }, flip: boolean): string {
  const { k: K, stride: S, vec: V } = cfg;
  const T = sgVecType(cfg);
  const Z = sgZero(cfg);
  const J = spanRegisters(cfg);
  const L = rowsInFlight(cfg);
  const WR = ceilDiv(K * K, DW_SG);
  const xs = flip ? 'dy' : 'x';
  const ys = flip ? 'dx' : 'y';
  const tapOf = (kh: number, kw: number) => (flip ? (K - 1 - kh) * K + (K - 1 - kw) : kh * K + kw);
  const wb = (kh: number, kw: number) => {
    const t = tapOf(kh, kw);
    return `subgroupBroadcast(wr${t >> 3}, ${t & 7}u)`;
  };
  const consume = (p: number) => streamRow(cfg, xs, p, (t, kh, kw) => `a${t} = fma(xk, ${wb(kh, kw)}, a${t});`);
  const e = cfg.epilogue;
  const perCh = (arr: string) => laneChannels(cfg, arr);
  const epLoads = [e && e.affine === 'scale-shift' ? `let epScale = ${perCh('scale')};` : '', e && e.affine !== 'none' ? `let epShift = ${perCh('shift')};` : ''].join(' ');
  const epApply = (v: string) => {
    if (!e) return v;
    const aff = e.affine === 'scale-shift' ? `${v} * epScale + epShift` : e.affine === 'shift' ? `${v} + epShift` : v;
    return e.relu6 ? `clamp(${aff}, ${T}(0.0), ${T}(6.0))` : aff;
  };
  const rotate = Array.from({ length: L }, (_, t) => (t + 1 < L ? `a${t} = a${t + 1};` : `a${t} = ${Z};`)).join(' ');
  const prologue = Array.from({ length: Math.max(0, K - S) }, (_, p) => consume(p));
  const steady = Array.from({ length: Math.min(S, K) }, (_, q) => consume(Math.max(0, K - S) + q));
  return wgsl`
${UNIT_MAIN}
  let ow = blk * ${DW_SG}u + sid;
  let iw0 = i32(blk * ${DW_SG * S}u) - u.padLeft;
  let iw = iw0 + i32(sid);
  ${spanColumnChecks(J)}
  ${Array.from({ length: WR }, (_, r) => `let wr${r} = w[min(${DW_SG * r}u + sid, ${K * K - 1}u) * u.cv + cg];`).join('\n  ')}
  ${epLoads} ${sgInputBnLoads(cfg)}
  ${Array.from({ length: L }, (_, t) => `var a${t} = ${Z};`).join(' ')}
  let oh0 = strip * u.rowsPerStrip;
  let oh1 = min(oh0 + u.rowsPerStrip, u.OH);
  var oh = oh0;
  ${prologue.join('\n  ')}
  for (; oh < oh1; oh++) {
    ${steady.join('\n    ')}
    if (ow < u.OW) { ${ys}[((n * u.OH + oh) * u.OW + ow) * u.cv + cg] = ${epApply('a0')}; }
    ${rotate}
  }
}`;
}

/**
 * dx of the depthwise convolution in the subgroup form. Stride 1: the forward with dy as input, the
 * rotated filter and padding k-1-pad (see depthwise-conv2d-strip.backward-input.ts). Stride s > 1:
 * stridedBackwardBody below.
 */
export function depthwiseSubgroupBackwardInputDispatch(cfg: DepthwiseSubgroupConfig, s: ConvShapes) {
  const S = cfg.stride;
  if (S === 1) {
    const f = depthwiseSubgroupDispatch(cfg, { ...s, H: s.OH, W: s.OW, OH: s.H, OW: s.W, padTop: cfg.k - 1 - s.padTop, padLeft: cfg.k - 1 - s.padLeft });
    return { grid: f.grid, uniforms: { ...f.uniforms, mMin: 0, mCount: 0, qMin: 0 } };
  }
  const cv = s.cin / cfg.vec;
  if (!Number.isInteger(cv)) throw new Error(`depthwise subgroup: ${s.cin} channels are not a multiple of ${cfg.vec}`);
  const mMin = Math.floor(s.padTop / S);
  const mCount = Math.floor((s.H - 1 + s.padTop) / S) - mMin + 1;
  const qMin = Math.floor(s.padLeft / S);
  const qCount = Math.floor((s.W - 1 + s.padLeft) / S) - qMin + 1;
  const blocks = ceilDiv(qCount, DW_SG / S);
  const { strips, rowsPerStrip } = stripPlan(mCount, s.N * blocks * cv * DW_SG);
  const units = s.N * strips * blocks * cv;
  return {
    grid: grid1d(ceilDiv(units * DW_SG, CONV_WG)),
    uniforms: { units, H: s.H, W: s.W, OH: s.OH, OW: s.OW, blocks, strips, rowsPerStrip, padTop: s.padTop, padLeft: s.padLeft, cv, mMin, mCount, qMin },
  };
}

/**
 * Stride s > 1 (s divides 8): with ih = s*m - padTop + a, iw = s*q - padLeft + b (a, b in [0, s)),
 *   dx[n, ih, iw, c] = sum over dh, dw of dy[n, m - dh, q - dw, c] * w[a + s*dh, b + s*dw, c]
 * (taps inside the filter only; see depthwise-conv2d-strip.backward-input.ts). The 8 lanes of a
 * subgroup are 8 neighbouring dx columns: lane sid has q = q0 + sid / s and b = sid % s, so the
 * subgroup needs dy columns q0 - D .. q0 + 8/s - 1 (D = floor((k-1)/s)), which lane l loads as
 * column q0 - D + l, and lane sid takes column q - dw by subgroupShuffle. Each lane keeps its own
 * filter taps for its b (loaded once per strip). Rows stream as in the strip form: dy row m - e feeds
 * the accumulators of row phases m - e + dh (set dh - e); once row m is consumed, phase m is complete
 * (its s dx rows are stored) and the sets rotate.
 */
function stridedBackwardBody(cfg: DepthwiseSubgroupConfig): string {
  const { k: K, stride: S } = cfg;
  const T = sgVecType(cfg);
  const Z = sgZero(cfg);
  const D = Math.floor((K - 1) / S);
  const Q = DW_SG / S;
  const span = Q + D;
  if (!Number.isInteger(Q) || span > DW_SG) throw new Error(`depthwise-conv2d-subgroup.backward-input: stride ${S} with k ${K} not supported`);
  // Filter taps of this lane: (a + S*dh, b + S*dw), zero where b + S*dw >= K.
  const wDecl: string[] = [];
  for (let a = 0; a < S; a++) {
    for (let dh = 0; dh <= D && a + S * dh < K; dh++) {
      for (let dw = 0; dw <= D; dw++) {
        const kw = `(b + ${S * dw}u)`;
        wDecl.push(`let w${a}_${dh}_${dw} = select(${Z}, w[min(${(a + S * dh) * K}u + ${kw}, ${K * K - 1}u) * u.cv + cg], ${kw} < ${K}u);`);
      }
    }
  }
  const consume = (e: number) => {
    const xs: string[] = [];
    for (let dw = 0; dw <= D; dw++) xs.push(`let x${dw} = subgroupShuffle(v, sid / ${S}u + ${D - dw}u);`);
    const fmas: string[] = [];
    for (let t = 0; t + e <= D; t++) {
      const dh = t + e;
      for (let a = 0; a < S && a + S * dh < K; a++) {
        for (let dw = 0; dw <= D; dw++) fmas.push(`b${t}_${a} = fma(x${dw}, w${a}_${dh}_${dw}, b${t}_${a});`);
      }
    }
    return `{
      let om = i32(m) - ${e};
      var v = ${Z};
      if (u32(om) < u.OH && vok) { v = dy[u32((i32(n * u.OH) + om) * i32(u.OW) + vcol) * u.cv + cg]; }
      ${xs.join(' ')}
      ${fmas.join(' ')}
    }`;
  };
  const decl = Array.from({ length: D + 1 }, (_, t) => Array.from({ length: S }, (_, a) => `var b${t}_${a} = ${Z};`).join(' ')).join(' ');
  const stores = Array.from({ length: S }, (_, a) => `{
      let ih = i32(m * ${S}u) - u.padTop + ${a};
      if (u32(ih) < u.H && jok) { dx[((n * u.H + u32(ih)) * u.W + u32(jx)) * u.cv + cg] = b0_${a}; }
    }`);
  const rotate = Array.from({ length: D + 1 }, (_, t) => Array.from({ length: S }, (_, a) => `b${t}_${a} = ${t < D ? `b${t + 1}_${a}` : Z};`).join(' ')).join(' ');
  return wgsl`
${UNIT_MAIN}
  let q0 = u.qMin + blk * ${Q}u;
  let b = sid % ${S}u;
  let jx = i32((q0 + sid / ${S}u) * ${S}u + b) - u.padLeft;
  let jok = u32(jx) < u.W;
  let vcol = i32(q0 + sid) - ${D};
  let vok = sid < ${span}u && u32(vcol) < u.OW;
  ${wDecl.join('\n  ')}
  ${decl}
  let m0 = u.mMin + strip * u.rowsPerStrip;
  let m1 = min(m0 + u.rowsPerStrip, u.mMin + u.mCount);
  ${streamDyRows(D, consume, stores, rotate)}
}`;
}

export const depthwiseConv2dSubgroupBackwardInput = defineKernel({
  name: 'depthwise-conv2d-subgroup.backward-input',
  uniforms: { ...SUBGROUP_UNIFORMS, mMin: 'u32', mCount: 'u32', qMin: 'u32' },
  bindings: {
    dy: { access: 'read', type: sgVecType },
    w: { access: 'read', type: sgVecType },
    dx: { access: 'read_write', type: sgVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  preamble: () => SUBGROUP_PREAMBLE,
  dispatch: (cfg: DepthwiseSubgroupConfig, s: ConvShapes) => depthwiseSubgroupBackwardInputDispatch(cfg, s),
  key: (cfg: DepthwiseSubgroupConfig) => depthwiseSubgroupKey(cfg),
  body: (cfg: DepthwiseSubgroupConfig) => {
    validateSubgroup('depthwise-conv2d-subgroup.backward-input', cfg);
    if (cfg.inputBn) throw new Error('depthwise-conv2d-subgroup.backward-input: inputBn is for the forward and the filter gradient');
    return cfg.stride === 1 ? subgroupForwardBody(cfg, true) : stridedBackwardBody(cfg);
  },
});
