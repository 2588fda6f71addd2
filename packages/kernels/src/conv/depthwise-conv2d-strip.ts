// Depthwise 2D convolution forward, "strip" form: each invocation owns one channel (or a vec4 of
// channels) x a run of `run` outputs along W x a strip of output rows, and streams down the strip:
// every input row is loaded once and feeds the accumulators of all the output rows that use it
// (stripForwardBody below). Same math and fused epilogue as depthwise-conv2d.ts (the "run" form, one
// output row per invocation):
//   y[n,oh,ow,c] = epilogue(sum over (kh,kw) of x[n, oh*s - padTop + kh, ow*s - padLeft + kw, c] * w[kh,kw,c]).
//
// Why (lavapipe, LAVAPIPE.md / CONVENTIONS.md): every storage access with a lane-varying address is
// a per-lane gather there (per lane: mask test, bounds check, scalar load, insert), so the time goes
// with the loads and stores per output. The run form loads k rows x ((run-1)*s + k) columns for `run`
// outputs (3.75 loads per output at s1, run 8) plus the k*k weights, and keeps the loaded values
// live, so LLVM assembles each gathered vector through a spilled stack slot. Streaming down a strip
// loads only the s new rows per output row (1.25 per output at s1, run 8), the weights and the
// epilogue's scale/shift once per strip, and consumes each loaded value at once. Rows and columns
// outside the input read 0 (selected away; the address is clamped at 0).
import { defineKernel } from '../define-kernel.js';
import { type EpilogueConfig, epilogueKey } from '../epilogue.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, vecCount, wgsl } from '../wgsl.js';
import { CONV_WG, type ConvShapes, convChannels, decodeIndex, convVecType, convZero, DEPTHWISE_FORWARD_BINDINGS } from './conv-common.js';
import { INPUT_BN_BINDINGS, inputBnApply, inputBnLoads } from './input-bn.js';

/** Specialization of the strip kernels (forward and backward-input). */
export interface DepthwiseStripConfig {
  /** Square kernel size. */
  k: number;
  /** Stride (1 or 2). */
  stride: number;
  /** Outputs along W per invocation (backward-input: dy columns per invocation, each giving `stride` dx columns). */
  run: number;
  /** Bind channel arrays as vec4<f32> (C % 4 == 0). */
  vec4: boolean;
}

export interface DepthwiseStripForwardConfig extends DepthwiseStripConfig {
  epilogue: EpilogueConfig;
  /** The input is a BatchNorm's raw input, normalized (+ReLU6) as it loads (input-bn.ts). */
  inputBn?: boolean;
}

/** Invocations a strip dispatch aims at (dozens of 64-wide workgroups, so both cores work). */
export const STRIP_TARGET_INVOCATIONS = 2048;
/** Fewest rows a strip holds (each strip re-loads k - s halo rows). */
export const STRIP_MIN_ROWS = 4;

/**
 * Splits `rows` rows (output rows; backward: row phases m) into strips so that `lanes` invocations
 * per strip reach STRIP_TARGET_INVOCATIONS, with at least STRIP_MIN_ROWS rows per strip.
 */
export function stripPlan(rows: number, lanes: number): { strips: number; rowsPerStrip: number } {
  const want = Math.max(1, Math.min(Math.ceil(STRIP_TARGET_INVOCATIONS / Math.max(1, lanes)), Math.ceil(rows / STRIP_MIN_ROWS)));
  const rowsPerStrip = Math.max(1, Math.ceil(rows / want));
  return { strips: Math.max(1, Math.ceil(rows / rowsPerStrip)), rowsPerStrip };
}

export const depthwiseStripKey = (c: DepthwiseStripConfig) => `k${c.k}s${c.stride}r${c.run}${c.vec4 ? 'v4' : 'f1'}`;

export function validateStrip(name: string, c: DepthwiseStripConfig): void {
  if (!(Number.isInteger(c.k) && c.k >= 1 && (c.stride === 1 || c.stride === 2) && Number.isInteger(c.run) && c.run >= 1 && c.run <= 16)) {
    throw new Error(`${name}: bad config ${JSON.stringify(c)}`);
  }
}

/** The flat invocation index as (channel c, run, strip, n), channels innermost. */
export const STRIP_MAIN_HEAD = `@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(CONV_WG)};
  if (i >= u.total) { return; }
${decodeIndex('i', [['c', 'cv'], ['run', 'runs'], ['strip', 'strips']], 'n')}`;

export function depthwiseStripForwardDispatch(cfg: DepthwiseStripConfig, s: ConvShapes) {
  const cv = vecCount(cfg, s.cin);
  const runs = ceilDiv(s.OW, cfg.run);
  const { strips, rowsPerStrip } = stripPlan(s.OH, s.N * runs * cv);
  const total = s.N * strips * runs * cv;
  return {
    grid: grid1d(ceilDiv(total, CONV_WG)),
    uniforms: { total, H: s.H, W: s.W, OH: s.OH, OW: s.OW, runs, strips, rowsPerStrip, padTop: s.padTop, padLeft: s.padLeft, cv },
  };
}

export const depthwiseConv2dStrip = defineKernel({
  name: 'depthwise-conv2d-strip',
  uniforms: { total: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', runs: 'u32', strips: 'u32', rowsPerStrip: 'u32', padTop: 'i32', padLeft: 'i32', cv: 'u32' },
  bindings: { ...DEPTHWISE_FORWARD_BINDINGS, ...INPUT_BN_BINDINGS },
  workgroupSize: () => [CONV_WG, 1, 1],
  dispatch: (cfg: DepthwiseStripForwardConfig, s: ConvShapes) => depthwiseStripForwardDispatch(cfg, s),
  key: (cfg: DepthwiseStripForwardConfig) => `${depthwiseStripKey(cfg)}|${epilogueKey(cfg.epilogue)}${cfg.inputBn ? '+bn' : ''}`,
  body: (cfg: DepthwiseStripForwardConfig) => {
    validateStrip('depthwise-conv2d-strip', cfg);
    return stripForwardBody(cfg, false);
  },
});

/**
 * WGSL of the streaming strip forward (also the stride-1 backward-input with `flip`: the filter read
 * rotated by 180 degrees, bindings dy/dx and no epilogue). Each loaded input value is consumed at once
 * by every accumulator that needs it, so only the accumulators and weights stay live: with few live
 * values lavapipe assembles each per-lane load in a register instead of through a spilled stack slot
 * (measured ~4x cheaper per load than keeping loaded rows around).
 *
 * Output row oh's window is input rows s*oh - padTop + p, p in [0, k). L = floor((k-1)/s) + 1 output
 * rows are in flight, accumulator set A<t> for row oh + t. Input row at offset p (relative to the
 * current oh) feeds A<t> through filter row kh = p - s*t. The prologue consumes offsets [0, k-s); each
 * step consumes the s new offsets [k-s, k), then A0 (row oh) is complete: stored, and the sets rotate.
 */
export function stripForwardBody(cfg: DepthwiseStripConfig & { epilogue?: EpilogueConfig; inputBn?: boolean }, flip: boolean): string {
  const { k: K, stride: S, run: R } = cfg;
  const Z = convZero(cfg);
  const T = convVecType(cfg);
  const span = (R - 1) * S + K;
  const L = Math.floor((K - 1) / S) + 1;
  const xs = flip ? 'dy' : 'x';
  const ys = flip ? 'dx' : 'y';
  const wIdx = (kh: number, kw: number) => (flip ? (K - 1 - kh) * K + (K - 1 - kw) : kh * K + kw);
  const consume = (p: number) => {
    const sets: { t: number; kh: number }[] = [];
    for (let t = 0; t < L; t++) if (p - S * t >= 0 && p - S * t < K) sets.push({ t, kh: p - S * t });
    const lines: string[] = [];
    for (let j = 0; j < span; j++) {
      const fmas: string[] = [];
      for (const { t, kh } of sets) {
        for (let r = 0; r < R; r++) {
          const kw = j - r * S;
          if (kw >= 0 && kw < K) fmas.push(`a${t}_${r} = fma(v, w${kh}_${kw}, a${t}_${r});`);
        }
      }
      const load = inputBnApply(cfg.inputBn, `${xs}[u32(max(base + ${j} * i32(u.cv), 0))]`, T);
      if (fmas.length) lines.push(`{ let v = select(${Z}, ${load}, rok && ok${j}); ${fmas.join(' ')} }`);
    }
    return `{
      let ih = i32(oh * ${S}u) - u.padTop + ${p};
      let rok = u32(ih) < u.H;
      let base = (i32(n * u.H) + ih) * i32(u.W * u.cv) + iw0 * i32(u.cv) + i32(c);
      ${lines.join('\n      ')}
    }`;
  };
  // The epilogue's per-channel scale and shift are loaded once per invocation, before the row loop
  // (epilogue.ts's epilogue(v, c) would load them per output: two more per-lane loads each).
  const e = cfg.epilogue;
  const perCh = (arr: string) => convChannels(cfg, arr);
  const epLoads = [e && e.affine === 'scale-shift' ? `let epScale = ${perCh('scale')};` : '', e && e.affine !== 'none' ? `let epShift = ${perCh('shift')};` : ''].join(' ');
  const epApply = (v: string) => {
    if (!e) return v;
    const aff = e.affine === 'scale-shift' ? `${v} * epScale + epShift` : e.affine === 'shift' ? `${v} + epShift` : v;
    return e.relu6 ? `clamp(${aff}, ${T}(0.0), ${T}(6.0))` : aff;
  };
  const accDecl = Array.from({ length: L }, (_, t) => Array.from({ length: R }, (_, r) => `var a${t}_${r}: ${T};`).join(' ')).join('\n  ');
  const rotate = Array.from({ length: L }, (_, t) =>
    Array.from({ length: R }, (_, r) => (t + 1 < L ? `a${t}_${r} = a${t + 1}_${r};` : `a${t}_${r} = ${Z};`)).join(' '),
  ).join('\n    ');
  const prologue = Array.from({ length: Math.max(0, K - S) }, (_, p) => consume(p));
  const steady = Array.from({ length: Math.min(S, K) }, (_, q) => consume(Math.max(0, K - S) + q));
  return wgsl`
${STRIP_MAIN_HEAD}
  let oh0 = strip * u.rowsPerStrip;
  let oh1 = min(oh0 + u.rowsPerStrip, u.OH);
  let ow0 = run * ${R}u;
  let iw0 = i32(ow0 * ${S}u) - u.padLeft;
  ${Array.from({ length: span }, (_, j) => `let ok${j} = u32(iw0 + ${j}) < u.W;`).join('\n  ')}
  ${Array.from({ length: K * K }, (_, t) => `let w${Math.floor(t / K)}_${t % K} = w[${wIdx(Math.floor(t / K), t % K)}u * u.cv + c];`).join('\n  ')}
  ${epLoads} ${inputBnLoads(cfg.inputBn, perCh)}
  ${accDecl}
  var oh = oh0;
  ${prologue.join('\n  ')}
  for (; oh < oh1; oh++) {
    ${steady.join('\n    ')}
    let ob = (n * u.OH + oh) * u.OW + ow0;
    ${Array.from({ length: R }, (_, r) => `if (ow0 + ${r}u < u.OW) { ${ys}[(ob + ${r}u) * u.cv + c] = ${epApply(`a0_${r}`)}; }`).join('\n    ')}
    ${rotate}
  }
}`;
}

/**
 * WGSL: the row stream of the stride-2 backward-input kernels (strip and subgroup forms): the first
 * `D` dy rows are consumed before the loop, then per dx row pair: consume one dy row, store, rotate
 * the accumulators. Expects `m0`, `m1` declared.
 */
export function streamDyRows(D: number, consume: (i: number) => string, stores: string[], rotate: string): string {
  return `var m = m0;
  ${Array.from({ length: D }, (_, i) => consume(D - i)).join('\n  ')}
  for (; m < m1; m++) {
    ${consume(0)}
    ${stores.join('\n    ')}
    ${rotate}
  }`;
}

