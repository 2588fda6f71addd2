// Code-generation helpers shared by the conv-family kernels (full and depthwise; forward, backward-input,
// backward-filter). These build WGSL text; they are not WGSL library code.
import { type EpilogueConfig, epilogueWgsl } from '../epilogue.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, vecCount } from '../wgsl.js';
import { splitPlan } from '../split-plan.js';

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

/** The geometry of one conv dispatch: input [N, H, W, cin], output [N, OH, OW, cout], top/left padding. */
export interface ConvShapes {
  N: number;
  H: number;
  W: number;
  cin: number;
  OH: number;
  OW: number;
  cout: number;
  padTop: number;
  padLeft: number;
}

/** Uniforms every conv-family kernel has: invocations, input and output size, runs along W, top padding. */
const CONV_GEOMETRY_UNIFORMS = { total: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', runs: 'u32', padTop: 'i32' } as const;
/** Forward kernels (runs = ceil(OW / run)); channel counts are added by each kernel. */
export const CONV_FORWARD_UNIFORMS = { ...CONV_GEOMETRY_UNIFORMS, padLeft: 'i32' } as const;
/** Backward-input kernels: runs = ceil((W + offQ) / run), offQ = padLeft mod stride, pq = (padLeft - offQ) / stride. */
export const CONV_BACKWARD_INPUT_UNIFORMS = { ...CONV_GEOMETRY_UNIFORMS, offQ: 'u32', pq: 'i32' } as const;
/** Filter-gradient kernels: items = N * OH * runs, per = items per partition (ceil(items / P)). */
export const CONV_FILTER_UNIFORMS = { ...CONV_FORWARD_UNIFORMS, items: 'u32', per: 'u32' } as const;

const convGrid = (total: number) => grid1d(ceilDiv(total, CONV_WG));

/**
 * Forward (conv2d, depthwise): one invocation per (sample, output row, run of `cfg.run` outputs along
 * W, output channel group). `c` = output channels in units of the bound type.
 */
export function convForwardDispatch(cfg: ConvTileConfig, s: ConvShapes) {
  const c = vecCount(cfg, s.cout);
  const runs = ceilDiv(s.OW, cfg.run);
  const total = s.N * s.OH * runs * c;
  return { grid: convGrid(total), c, uniforms: { total, H: s.H, W: s.W, OH: s.OH, OW: s.OW, runs, padTop: s.padTop, padLeft: s.padLeft } };
}

/**
 * Backward-input: one invocation per (sample, input row, run of `cfg.run` inputs along W, `lanes`),
 * runs aligned to the stride phase of the left padding (offQ = padLeft mod stride).
 */
export function convBackwardInputDispatch(cfg: ConvTileConfig, s: ConvShapes, lanes: number) {
  const offQ = s.padLeft % cfg.stride;
  const runs = ceilDiv(s.W + offQ, cfg.run);
  const total = s.N * s.H * runs * lanes;
  return { grid: convGrid(total), uniforms: { total, H: s.H, W: s.W, OH: s.OH, OW: s.OW, runs, padTop: s.padTop, offQ, pq: (s.padLeft - offQ) / cfg.stride } };
}

/**
 * Filter gradient: the N·OH·runs work items are split into P partitions (split-plan.ts: ~1024
 * invocations, >= 16 items each; measured on the MobileNetV2 depthwise shapes, 1024/16 beat 4096/4
 * by ~15 % and 2048/8 by ~8 %), one invocation per (partition, `lanes`), each writing partial sums
 * that convFilterReduce folds. The op reads P = `parts` to size its partials.
 */
export function convFilterDispatch(cfg: ConvTileConfig, s: ConvShapes, lanes: number) {
  const runs = ceilDiv(s.OW, cfg.run);
  const items = s.N * s.OH * runs;
  const { parts, rowsPerPart: per } = splitPlan(items, lanes, 16, 1024);
  const total = parts * lanes;
  return { grid: convGrid(total), parts, uniforms: { total, H: s.H, W: s.W, OH: s.OH, OW: s.OW, runs, padTop: s.padTop, padLeft: s.padLeft, items, per } };
}

export const convTileKey = (c: ConvTileConfig) => `k${c.k}s${c.stride}r${c.run}${c.vec4 ? 'v4' : 'f1'}`;
export const convVecType = (cfg: { vec4: boolean }) => (cfg.vec4 ? 'vec4<f32>' : 'f32');

/** The buffers of a depthwise forward kernel (every form): input, filter, the epilogue's scale/shift, output. */
export const DEPTHWISE_FORWARD_BINDINGS = {
  x: { access: 'read', type: convVecType },
  w: { access: 'read', type: convVecType },
  scale: 'read',
  shift: 'read',
  y: { access: 'read_write', type: convVecType },
} as const;
export const convZero = (cfg: { vec4: boolean }) => (cfg.vec4 ? 'vec4<f32>(0.0)' : '0.0');
/**
 * WGSL: decodes the flat `index` into coordinates, innermost first: `let <name> = index % u.<count>`
 * for each of `inner`, and what is left into `last` (the sample, n).
 */
export function decodeIndex(index: string, inner: readonly (readonly [string, string])[], last: string): string {
  const lines: string[] = [];
  let src = index;
  inner.forEach(([name, count], k) => {
    lines.push(`let ${name} = ${src} % u.${count};`);
    if (k === inner.length - 1) lines.push(`let ${last} = ${src} / u.${count};`);
    else lines.push(k === 0 ? `var t = ${src} / u.${count};` : `t = t / u.${count};`);
    src = 't';
  });
  return lines.map((l) => `  ${l}`).join('\n');
}
/** WGSL: channel group `c` of a per-channel f32 array `arr` (a vec4 of four channels with vec4). */
export const convChannels = (cfg: { vec4: boolean }, arr: string) =>
  cfg.vec4 ? `vec4<f32>(${arr}[c * 4u], ${arr}[c * 4u + 1u], ${arr}[c * 4u + 2u], ${arr}[c * 4u + 3u])` : `${arr}[c]`;

/** Number of input columns a run of `run` outputs reads: (run-1)*stride + k. */
export const convSpan = (c: ConvTileConfig) => (c.run - 1) * c.stride + c.k;

/** One (run element r, filter column kw) pair. */
export interface Tap {
  r: number;
  kw: number;
}

/**
 * Forward gather: for input column offset j (0..span-1, relative to the run's first input column),
 * the (output r, tap kw) pairs with r*stride + kw == j.
 */
export function tapsByInputColumn(c: ConvTileConfig): Tap[][] {
  const out: Tap[][] = Array.from({ length: convSpan(c) }, () => []);
  for (let r = 0; r < c.run; r++) for (let kw = 0; kw < c.k; kw++) out[r * c.stride + kw].push({ r, kw });
  return out;
}

/**
 * Backward-input gather with runs aligned to the stride (see depthwise-conv2d.backward-input.ts):
 * input r of the run receives output column (base + d) through tap kw exactly when r - kw = d*stride.
 * Returns, for each needed output offset d, the (r, kw) pairs.
 */
export function tapsByOutputOffset(c: ConvTileConfig): { d: number; pairs: Tap[] }[] {
  const m = new Map<number, Tap[]>();
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

/**
 * One gathered operand feeding several taps: `{ <load> acc = fma(a, b, acc); ... }`, where `load`
 * binds the operand and `fma` names (acc, a, b) for each pair.
 */
export function tapBlock(indent: string, load: string, pairs: Tap[], fma: (t: Tap) => [acc: string, a: string, b: string]): string {
  const stmts = pairs.map((t) => {
    const [acc, a, b] = fma(t);
    return ` ${acc} = fma(${a}, ${b}, ${acc});`;
  });
  return `${indent}{ ${load}${stmts.join('')} }`;
}

/** `var acc<r>: T = 0;` for each element of the run. */
export const runAccumulators = (cfg: ConvTileConfig) =>
  Array.from({ length: cfg.run }, (_, r) => `  var acc${r}: ${convVecType(cfg)} = ${convZero(cfg)};`).join('\n');

/**
 * Start of a run-tiled `main`: flat invocation index decomposed as (n, row, run, channel), innermost
 * channel (`ch` over `u.<chCount>`), then the run along W, then `row` over `u.<rowCount>`, then n.
 */
export function runTiledMainHead(ch: string, chCount: string, row: string, rowCount: string): string {
  return `@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(CONV_WG)};
  if (i >= u.total) { return; }
  let ${ch} = i % u.${chCount};
  var t = i / u.${chCount};
  let run = t % u.runs;
  t = t / u.runs;
  let ${row} = t % u.${rowCount};
  let n = t / u.${rowCount};`;
}

/** Forward tap row kh: skips rows outside the input, binds rb = first pixel of the input row. */
export function forwardRow(kh: number, body: string): string {
  return `  {
    let ih = ih0 + ${kh};
    if (u32(ih) < u.H) {
    let rb = (n * u.H + u32(ih)) * u.W;
${body}
    }
  }`;
}

/**
 * Forward kernel source after the tap rows have been generated: the epilogue, index decomposition
 * (channel `ch` over `u.<chCount>`), accumulators, rows, then the fused epilogue and stores of the run.
 */
export function forwardMain(cfg: ConvTileConfig & { epilogue: EpilogueConfig }, ch: string, chCount: string, rows: string[]): string {
  const { stride: S, run: R } = cfg;
  const ep = cfg.vec4 ? 'epilogue4' : 'epilogue';
  const c0 = cfg.vec4 ? `${ch} * 4u` : ch;
  return `
${epilogueWgsl(cfg.epilogue)}
${runTiledMainHead(ch, chCount, 'oh', 'OH')}
  let ow0 = run * ${R}u;
  let ih0 = i32(oh * ${S}u) - u.padTop;
  let iw0 = i32(ow0 * ${S}u) - u.padLeft;
${runAccumulators(cfg)}
${rows.join('\n')}
  let ob = (n * u.OH + oh) * u.OW + ow0;
  // All epilogues before the stores, so the compiler can share their scale/shift loads.
${Array.from({ length: R }, (_, r) => `  let o${r} = ${ep}(acc${r}, ${c0});`).join('\n')}
${Array.from({ length: R }, (_, r) => `  if (ow0 + ${r}u < u.OW) { y[(ob + ${r}u) * u.${chCount} + ${ch}] = o${r}; }`).join('\n')}
}`;
}

/** Backward-input tap row: `cond`/`oh` from backwardRow; binds rb = first pixel of the dy row. */
export function backwardInputRow(cond: string, oh: string, body: string): string {
  return `  if (${cond}) {
    let rb = (n * u.OH + ${oh}) * u.OW;
${body}
  }`;
}

/**
 * Body of a backward-input kernel after the tap rows have been generated: index decomposition (channel
 * `ch` over `u.<chCount>`), accumulators, rows, and the stores of the run's inputs that lie inside the
 * image (`store(r)` is the WGSL statement writing input r at pixel (ib + iw)).
 */
export function backwardInputMain(cfg: ConvTileConfig, ch: string, chCount: string, rows: string[], store: (r: number) => string): string {
  const { run: R, stride: S } = cfg;
  return `${runTiledMainHead(ch, chCount, 'ih', 'H')}
  let q0 = run * ${R}u;
  let qs = i32(run * ${R / S}u) + u.pq;
${runAccumulators(cfg)}
${rows.join('\n')}
  let ib = (n * u.H + ih) * u.W;
${Array.from({ length: R }, (_, r) => `  { let iw = q0 + ${r}u - u.offQ; if (q0 + ${r}u >= u.offQ && iw < u.W) { ${store(r)} } }`).join('\n')}
}`;
}

/** Filter-gradient tap row kh: skips rows outside the input, binds rb = first pixel of the input row. */
export function filterRow(kh: number, body: string): string {
  return `    {
    let ih = ih0 + ${kh};
    if (u32(ih) < u.H) {
      let rb = (n * u.H + u32(ih)) * u.W;
${body}
    }
    }`;
}

/** Filter gradient: g<r> = dy of run element r (0 past the right edge), channel `ch` over `u.<chCount>`. */
export function filterDyLoads(cfg: ConvTileConfig, ch: string, chCount: string): string[] {
  const Z = convZero(cfg);
  return Array.from(
    { length: cfg.run },
    (_, r) => `    let g${r} = select(${Z}, dy[(ob + min(${r}u, u.OW - 1u - ow0)) * u.${chCount} + ${ch}], ow0 + ${r}u < u.OW);`,
  );
}

/** Filter gradient: one accumulator a<kh>_<kw> per tap, and its store at partial[index(tap)]. */
export function filterAccumulators(cfg: ConvTileConfig, index: (tap: number) => string): { accs: string[]; stores: string[] } {
  const K = cfg.k;
  const accs: string[] = [];
  const stores: string[] = [];
  for (let kh = 0; kh < K; kh++) {
    for (let kw = 0; kw < K; kw++) {
      accs.push(`  var a${kh}_${kw}: ${convVecType(cfg)} = ${convZero(cfg)};`);
      stores.push(`  partial[${index(kh * K + kw)}] = a${kh}_${kw};`);
    }
  }
  return { accs, stores };
}

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
