// Matrix multiply C[M,N] = op(A)·op(B) (+ fused epilogue), serving pointwise (1x1) convolution
// forward/backward and the dense layer. Row-major f32; A is stored [M,K] (or [K,M] with transA),
// B [K,N] (or [N,K] with transB): transposes are read in place, never materialized.
//
// Lavapipe form (LAVAPIPE.md): register blocking, no workgroup memory and no barriers. Each
// invocation computes a bm x bn block of C (bn a multiple of 4, one vec4 accumulator per 4 columns)
// and walks K four steps at a time with vec4 loads along K (A row-major, B transposed) or along M/N
// (A transposed, B row-major) wherever the dimension is a multiple of 4, scalar loads otherwise.
// Rows/columns past the edge of C are clamped on load (always in bounds) and skipped on store.
//
// Subgroup sharing (`share`, adapters with 8-wide subgroups, i.e. lavapipe on AVX2): llvmpipe runs
// 8 invocations as the SIMD lanes of one subgroup and turns every storage load whose address
// differs per lane into 8 scalar loads per component (~2 cycles each), which made loads, not FMAs,
// the whole cost of the plain form. With `share: 'b'` the 8 lanes of a subgroup own 8 consecutive
// row blocks of one bm x bn column block: each lane loads 1/8 of the B fragments that all of them
// need and the others get them by `subgroupBroadcast` (a register shuffle). `share: 'a'` shares A
// rows across 8 consecutive column blocks the same way. This cut loads per FMA by 2-3x and doubled
// GFLOP/s on MobileNetV2's shapes (bench/results/kernels-lavapipe.md).
//
// Split-K (`splitK`): the workgroup z index picks a slice [z*kChunk, (z+1)*kChunk) of K and the raw
// partial sums go to c[z*M*N ...]; `matmulSplitKReduce` then sums the slices and applies the
// epilogue. This is how the weight gradient Xᵀ·dY (K = N*H*W up to 100k, tiny M x N) gets work for
// every core.
//
// Block shapes rank differently per shape and per device (lavapipe vs a real GPU): they are
// configuration (`bm`, `bn`, `map`, `share`), chosen by the host op and overridable for tuning.
import { defineKernel } from '../define-kernel.js';
import { type EpilogueConfig, epilogueKey, epilogueWgsl } from '../epilogue.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, wgsl } from '../wgsl.js';

/** Invocations per workgroup of every matmul-family kernel. */
export const MATMUL_WG = 64;
/** Lanes that share loads in the subgroup forms (the subgroup size they require). */
export const MATMUL_SG = 8;

export type MatmulShare = 'none' | 'a' | 'b';

export interface MatmulTile {
  /** Rows of C per invocation: 1, 2, 4, 8 or 16. */
  bm: number;
  /** Columns of C per invocation: 4, 8, 16 or 32. */
  bn: number;
  /** Adjacent blocks (of invocations, or of subgroups when sharing) step along N ('n-fast') or M ('m-fast'). */
  map: MatmulMap;
  /** Share A rows ('a') or B columns ('b') across the 8 lanes of a subgroup; 'none': plain form. */
  share: MatmulShare;
}

export type MatmulMap = 'n-fast' | 'm-fast';

/** Rows x columns of C covered by one scheduling unit (an invocation, or a subgroup when sharing). */
export function matmulGroupBlock(t: MatmulTile): [number, number] {
  if (t.share === 'a') return [t.bm, MATMUL_SG * t.bn];
  if (t.share === 'b') return [MATMUL_SG * t.bm, t.bn];
  return [t.bm, t.bn];
}

/** Workgroups needed to cover an M x N output with a tile (lay them out with grid1d). */
export function matmulWorkgroups(M: number, N: number, t: MatmulTile): number {
  const [gm, gn] = matmulGroupBlock(t);
  const units = Math.ceil(M / gm) * Math.ceil(N / gn);
  return Math.ceil((units * (t.share === 'none' ? 1 : MATMUL_SG)) / MATMUL_WG);
}

/**
 * K slices of a split-K matmul asked for `splitK` slices: each a multiple of 4 long (vec4 loads along
 * K stay aligned), all but the last full. `slices` <= 1 means no split.
 */
export function matmulKSlices(K: number, splitK: number): { kChunk: number; slices: number } {
  const kChunk = splitK > 1 ? Math.ceil(ceilDiv(K, splitK) / 4) * 4 : K;
  return { kChunk, slices: ceilDiv(K, kChunk) };
}

/** Grid of the matmul pair: the tile's workgroups laid out by grid1d in x/y, `z` slices. */
function matmulGrid(c: MatmulTile, M: number, N: number, z: number): [number, number, number] {
  const [gx, gy] = grid1d(matmulWorkgroups(M, N, c));
  return [gx, gy, z];
}

export interface MatmulConfig extends MatmulTile {
  transA: boolean;
  transB: boolean;
  /** K % 4 == 0: vec4 loads along K (A row-major / B transposed) and no K tail loop. */
  kVec: boolean;
  /** transA and M % 4 == 0 and bm % 4 == 0: vec4 loads of A along M. */
  mVec: boolean;
  /** N % 4 == 0: vec4 loads of row-major B along N and vec4 stores of C. */
  nVec: boolean;
  /** Write raw partial sums of the K slice `workgroup_id.z` to c[z*M*N..] (no epilogue). */
  splitK: boolean;
  epilogue: EpilogueConfig;
  /** Plain ReLU after the epilogue (the dense head's Dense(n, relu)). */
  relu: boolean;
  /**
   * Add `residual[m, n]` (same layout as C) after the epilogue: an inverted residual block's
   * shortcut fused into its projection, instead of a separate add pass over the output.
   */
  residual?: boolean;
}

const COMP = ['x', 'y', 'z', 'w'];

export const matmulTileKey = (t: MatmulTile) => `${t.share === 'none' ? '' : `sg${t.share}`}${t.bm}x${t.bn}${t.map === 'm-fast' ? 'm' : ''}`;

/**
 * Whether every load of both operands is a vec4 (K % 4 == 0, and M % 4 with transA, N % 4 without
 * transB): the 4-k-step form, required for subgroup sharing. Otherwise one k per step.
 */
export function matmulVecPath(c: Pick<MatmulConfig, 'transA' | 'transB' | 'kVec' | 'mVec' | 'nVec'>): boolean {
  return c.kVec && (!c.transA || c.mVec) && (c.transB || c.nVec);
}

export function validateMatmulConfig(cfg: MatmulConfig): void {
  if (![1, 2, 4, 8, 16].includes(cfg.bm) || ![4, 8, 16, 32].includes(cfg.bn)) {
    throw new Error(`matmul kernel: block ${cfg.bm}x${cfg.bn} not supported (bm in 1,2,4,8,16; bn in 4,8,16,32)`);
  }
  if (cfg.mVec && (!cfg.transA || cfg.bm % 4 !== 0)) throw new Error('matmul kernel: mVec needs transA and bm % 4 == 0');
  if (cfg.share !== 'none' && !matmulVecPath(cfg)) {
    throw new Error(`matmul kernel: share '${cfg.share}' needs vec4 loads of both operands (kVec, and mVec with transA, nVec without transB)`);
  }
}

// Subgroups leave as a whole (see matmulBody), which WGSL's workgroup-level uniformity analysis
// cannot see: its subgroup check is turned off for these kernels.
const SUBGROUP_PREAMBLE = 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);';

const aVec = (c: MatmulConfig) => (c.transA ? c.mVec : matmulVecPath(c));
const bVec = (c: MatmulConfig) => (c.transB ? matmulVecPath(c) : c.nVec);
const v4 = (on: boolean) => (on ? 'vec4<f32>' : 'f32');
const range = (n: number) => [...Array(n).keys()];

/**
 * The vec4 "fragments" of one operand that a bm x bn block needs for one step of 4 k's, in the
 * kVec forms (and mVec / nVec for the operand read along M / N):
 *   A row-major:  fragment r = A[row m0+r, k..k+3]                      (bm fragments)
 *   A transposed: fragment kk*(bm/4)+g = A[k+kk, m0+4g..m0+4g+3]        (bm fragments)
 *   B row-major:  fragment kk*(bn/4)+j = B[k+kk, n0+4j..n0+4j+3]        (bn fragments)
 *   B transposed: fragment c = B[col n0+c, k..k+3]                      (bn fragments)
 * `setup(q)` returns statements run once before the K loop for fragment index expression q (a
 * compile-time number or a WGSL u32 expression), `load(q)` the WGSL expression loading it at k.
 */
interface Fragments {
  count: number;
  setup: (q: number | string, name: string) => string[];
  load: (name: string) => string;
}

function fragmentsA(c: MatmulConfig, m0: string): Fragments {
  const { bm } = c;
  if (!c.transA) {
    return {
      count: bm,
      setup: (q, n) => [`let ${n} = min(${m0} + ${typeof q === 'number' ? `${q}u` : q}, u.M - 1u) * K4;`],
      load: (n) => `a[${n} + k / 4u]`,
    };
  }
  const G = bm / 4;
  return {
    count: bm,
    setup: (q, n) =>
      typeof q === 'number'
        ? [`let ${n}k = ${Math.floor(q / G)}u;`, `let ${n} = min(${m0} / 4u + ${q % G}u, M4 - 1u);`]
        : [`let ${n}k = (${q}) / ${G}u;`, `let ${n} = min(${m0} / 4u + (${q}) % ${G}u, M4 - 1u);`],
    load: (n) => `a[(k + ${n}k) * M4 + ${n}]`,
  };
}

function fragmentsB(c: MatmulConfig, n0: string): Fragments {
  const { bn } = c;
  const J = bn / 4;
  if (!c.transB) {
    return {
      count: bn,
      setup: (q, n) =>
        typeof q === 'number'
          ? [`let ${n}k = ${Math.floor(q / J)}u;`, `let ${n} = min(${n0} / 4u + ${q % J}u, N4 - 1u);`]
          : [`let ${n}k = (${q}) / ${J}u;`, `let ${n} = min(${n0} / 4u + (${q}) % ${J}u, N4 - 1u);`],
      load: (n) => `b[(k + ${n}k) * N4 + ${n}]`,
    };
  }
  return {
    count: bn,
    setup: (q, n) => [`let ${n} = min(${n0} + ${typeof q === 'number' ? `${q}u` : q}, u.N - 1u) * K4;`],
    load: (n) => `b[${n} + k / 4u]`,
  };
}

/** a(r, kk) as a scalar expression, b(kk, j) as a vec4 expression, from fragment value names. */
function fragmentUse(c: MatmulConfig, fa: (q: number) => string, fb: (q: number) => string) {
  const G = c.bm / 4;
  const J = c.bn / 4;
  const aS = (r: number, kk: number) => (c.transA ? `${fa(kk * G + (r >> 2))}.${COMP[r & 3]}` : `${fa(r)}.${COMP[kk]}`);
  const bV = (kk: number, j: number) =>
    c.transB ? `vec4<f32>(${[0, 1, 2, 3].map((i) => `${fb(4 * j + i)}.${COMP[kk]}`).join(', ')})` : fb(kk * J + j);
  return { aS, bV };
}

/** WGSL of the matmul main() for a config (shared by the plain and split-K kernels). */
function matmulBody(c: MatmulConfig): string {
  validateMatmulConfig(c);
  const { bm, bn } = c;
  const J = bn / 4; // vec4 accumulators per row
  const rs = range(bm);
  const js = range(J);
  const cols = range(bn);
  const L: string[] = [];
  const emit = (s: string) => L.push(`  ${s}`);
  const shared = c.share !== 'none';
  const [GM, GN] = matmulGroupBlock(c);

  // -- scheduling unit (invocation, or subgroup when sharing) → block of C
  emit(`let unitsM = (u.M + ${GM - 1}u) / ${GM}u;`);
  emit(`let unitsN = (u.N + ${GN - 1}u) / ${GN}u;`);
  emit(`let units = unitsM * unitsN;`);
  if (shared) {
    // Subgroup index from the flat invocation index: lavapipe packs invocations 8i..8i+7 into
    // subgroup i, so `unit` is uniform across a subgroup and whole subgroups past the end may leave
    // (the broadcasts below need all 8 lanes of the subgroups that stay).
    emit(`let unit = ${flatIndex(MATMUL_WG)} / ${MATMUL_SG}u;`);
    emit(`if (unit >= units) { return; }`);
    emit(`let uc = unit;`);
  } else {
    emit(`let unit = ${flatIndex(MATMUL_WG)};`);
    emit(`if (unit >= units) { return; }`);
    emit(`let uc = unit;`);
  }
  if (c.map === 'm-fast') emit(`let gm = uc % unitsM;\n  let gn = uc / unitsM;`);
  else emit(`let gm = uc / unitsN;\n  let gn = uc % unitsN;`);
  if (c.share === 'a') emit(`let m0 = gm * ${GM}u;\n  let n0 = gn * ${GN}u + sid * ${bn}u;`);
  else if (c.share === 'b') emit(`let m0 = gm * ${GM}u + sid * ${bm}u;\n  let n0 = gn * ${GN}u;`);
  else emit(`let m0 = gm * ${GM}u;\n  let n0 = gn * ${GN}u;`);
  emit(`let kBeg = wid.z * u.kChunk;`);
  emit(`let kEnd = min(kBeg + u.kChunk, u.K);`);
  emit(`let K4 = u.K / 4u;`);
  emit(`let M4 = u.M / 4u;`);
  emit(`let N4 = u.N / 4u;`);
  for (const r of rs) for (const j of js) emit(`var acc${r}_${j} = vec4<f32>(0.0);`);

  if (matmulVecPath(c)) {
    // ---- vec4 forms: fragments per step of 4 k's (kBeg, kEnd are multiples of 4)
    const A = fragmentsA(c, 'm0');
    const B = fragmentsB(c, 'n0');
    const loop: string[] = [];
    const q = (s: string) => loop.push(`    ${s}`);
    const operand = (F: Fragments, tag: string, isShared: boolean): ((i: number) => string) => {
      if (!isShared) {
        for (let i = 0; i < F.count; i++) F.setup(i, `o${tag}${i}`).forEach(emit);
        for (let i = 0; i < F.count; i++) q(`let f${tag}${i} = ${F.load(`o${tag}${i}`)};`);
        return (i) => `f${tag}${i}`;
      }
      // Lane s loads fragments (s + 8i) % count, i < ceil(count / 8); fragment f is then read from
      // lane f % 8's load number f / 8.
      const per = Math.ceil(F.count / MATMUL_SG);
      for (let i = 0; i < per; i++) F.setup(`(sid + ${MATMUL_SG * i}u) % ${F.count}u`, `s${tag}${i}`).forEach(emit);
      for (let i = 0; i < per; i++) q(`let l${tag}${i} = ${F.load(`s${tag}${i}`)};`);
      for (let f = 0; f < F.count; f++) q(`let f${tag}${f} = subgroupBroadcast(l${tag}${f >> 3}, ${f & 7}u);`);
      return (i) => `f${tag}${i}`;
    };
    const fa = operand(A, 'a', c.share === 'a');
    const fb = operand(B, 'b', c.share === 'b');
    const { aS, bV } = fragmentUse(c, fa, fb);
    for (let kk = 0; kk < 4; kk++)
      for (const j of js) for (const r of rs) q(`acc${r}_${j} = fma(vec4<f32>(${aS(r, kk)}), ${bV(kk, j)}, acc${r}_${j});`);
    L.push(`  for (var k = kBeg; k < kEnd; k += 4u) {`, ...loop, `  }`);
  } else {
    // ---- odd shapes (e.g. Cin = 3, Dense(10)): one k per step, plain form only. (A 4-step loop
    // plus a tail doubled the code and the cold LLVM compile, ~0.5-1 s per pipeline on lavapipe.)
    if (!c.transA) for (const r of rs) emit(`let ar${r} = min(m0 + ${r}u, u.M - 1u) * u.K;`);
    else if (c.mVec) for (let g = 0; g < bm / 4; g++) emit(`let ag${g} = min(m0 / 4u + ${g}u, M4 - 1u);`);
    else for (const r of rs) emit(`let ac${r} = min(m0 + ${r}u, u.M - 1u);`);
    if (!c.transB) {
      if (c.nVec) for (const j of js) emit(`let bg${j} = min(n0 / 4u + ${j}u, N4 - 1u);`);
      else for (const n of cols) emit(`let bc${n} = min(n0 + ${n}u, u.N - 1u);`);
    } else for (const n of cols) emit(`let br${n} = min(n0 + ${n}u, u.N - 1u) * u.K;`);
    const Q: string[] = [];
    const q = (s: string) => Q.push(`    ${s}`);
    let aS: (r: number) => string;
    if (!c.transA) {
      for (const r of rs) q(`let a${r} = a[ar${r} + k];`);
      aS = (r) => `a${r}`;
    } else if (c.mVec) {
      for (let g = 0; g < bm / 4; g++) q(`let a_${g} = a[k * M4 + ag${g}];`);
      aS = (r) => `a_${r >> 2}.${COMP[r & 3]}`;
    } else {
      for (const r of rs) q(`let a${r} = a[k * u.M + ac${r}];`);
      aS = (r) => `a${r}`;
    }
    let bV: (j: number) => string;
    if (!c.transB && c.nVec) {
      for (const j of js) q(`let b${j} = b[k * N4 + bg${j}];`);
      bV = (j) => `b${j}`;
    } else if (!c.transB) {
      for (const j of js) q(`let b${j} = vec4<f32>(${[0, 1, 2, 3].map((i) => `b[k * u.N + bc${4 * j + i}]`).join(', ')});`);
      bV = (j) => `b${j}`;
    } else {
      for (const j of js) q(`let b${j} = vec4<f32>(${[0, 1, 2, 3].map((i) => `b[br${4 * j + i} + k]`).join(', ')});`);
      bV = (j) => `b${j}`;
    }
    for (const r of rs) for (const j of js) q(`acc${r}_${j} = fma(vec4<f32>(${aS(r)}), ${bV(j)}, acc${r}_${j});`);
    L.push(`  for (var k = kBeg; k < kEnd; k += 1u) {`, ...Q, `  }`);
  }
  // -- epilogue constants, once per column group instead of once per stored vec4 (each
  // vec4(scale[c], ...) is 4 scalar loads per lane: with few k steps, e.g. K = 16, they cost more
  // than the matmul). With share 'b' the lanes have the same columns: each loads 1/8 and broadcasts.
  const hoist = !c.splitK && c.nVec && c.epilogue.affine !== 'none';
  const epS = (j: number) => `es${j}`;
  const epH = (j: number) => `eh${j}`;
  if (hoist) {
    const arrays: [string, (j: number) => string][] = [['shift', epH]];
    if (c.epilogue.affine === 'scale-shift') arrays.unshift(['scale', epS]);
    const vecAt = (arr: string, g: string) => `vec4<f32>(${arr}[${g}], ${arr}[${g} + 1u], ${arr}[${g} + 2u], ${arr}[${g} + 3u])`;
    for (const [arr, name] of arrays) {
      if (c.share === 'b') {
        const per = Math.ceil(J / MATMUL_SG);
        for (let i = 0; i < per; i++) emit(`let ${arr}L${i} = ${vecAt(arr, `min(n0 + ((sid + ${MATMUL_SG * i}u) % ${J}u) * 4u, u.N - 4u)`)};`);
        for (const j of js) emit(`let ${name(j)} = subgroupBroadcast(${arr}L${j >> 3}, ${j & 7}u);`);
      } else {
        for (const j of js) emit(`let ${name(j)} = ${vecAt(arr, `min(n0 + ${4 * j}u, u.N - 4u)`)};`);
      }
    }
  }

  // -- store
  // split-K: slice z of the partial-sum buffer starts at z*M*N
  const base = c.splitK ? (c.nVec ? 'wid.z * u.M * N4 + ' : 'wid.z * u.M * u.N + ') : '';
  const ep4 = (v: string, col: string, j: number) => {
    if (c.splitK) return v;
    let e: string;
    if (hoist) {
      const aff = c.epilogue.affine === 'scale-shift' ? `${v} * ${epS(j)} + ${epH(j)}` : `${v} + ${epH(j)}`;
      e = c.epilogue.relu6 ? `relu6v(${aff})` : aff;
    } else e = `epilogue4(${v}, ${col})`;
    return c.relu ? `max(${e}, vec4<f32>(0.0))` : e;
  };
  const ep1 = (v: string, col: string) => {
    if (c.splitK) return v;
    const e = `epilogue(${v}, ${col})`;
    return c.relu ? `max(${e}, 0.0)` : e;
  };
  const res = !c.splitK && c.residual;
  for (const r of rs) {
    L.push(`  if (m0 + ${r}u < u.M) {`);
    L.push(`    let row = m0 + ${r}u;`);
    for (const j of js) {
      if (c.nVec) {
        const at = `row * N4 + n0 / 4u + ${j}u`;
        const v = ep4(`acc${r}_${j}`, `n0 + ${4 * j}u`, j);
        L.push(`    if (n0 + ${4 * j}u < u.N) { c[${base}${at}] = ${res ? `${v} + residual[${at}]` : v}; }`);
      } else {
        for (let i = 0; i < 4; i++) {
          const col = `n0 + ${4 * j + i}u`;
          const at = `row * u.N + ${col}`;
          const v = ep1(`acc${r}_${j}.${COMP[i]}`, col);
          L.push(`    if (${col} < u.N) { c[${base}${at}] = ${res ? `${v} + residual[${at}]` : v}; }`);
        }
      }
    }
    L.push(`  }`);
  }
  const body = L.join('\n');
  const sidArg = shared ? ', @builtin(subgroup_invocation_id) sid: u32' : '';

  return wgsl`
${c.splitK ? '' : epilogueWgsl(c.epilogue)}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}${sidArg}) {
${body}
}`;
}

const matmulKey = (c: MatmulConfig) =>
  `${matmulTileKey(c)}${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'}k${+c.kVec}m${+c.mVec}n${+c.nVec}|${c.splitK ? 'split' : epilogueKey(c.epilogue) + (c.relu ? '+relu' : '') + (c.residual ? '+res' : '')}`;

const MATMUL_UNIFORMS = { M: 'u32', N: 'u32', K: 'u32', kChunk: 'u32' } as const;

/**
 * C = op(A)·op(B) with a fused epilogue. Grid: grid1d(ceil(tiles / MATMUL_WG)) in x/y, z = 1.
 * Uniforms: M, N, K and kChunk (= K when not split).
 */
export const matmul = defineKernel({
  name: 'matmul',
  uniforms: MATMUL_UNIFORMS,
  bindings: {
    a: { access: 'read', type: (c: MatmulConfig) => v4(aVec(c)) },
    b: { access: 'read', type: (c: MatmulConfig) => v4(bVec(c)) },
    scale: 'read',
    shift: 'read',
    /** Read only with `residual` (else any small buffer is bound). */
    residual: { access: 'read', type: (c: MatmulConfig) => v4(c.nVec) },
    c: { access: 'read_write', type: (c: MatmulConfig) => v4(c.nVec) },
  },
  workgroupSize: () => [MATMUL_WG, 1, 1],
  preamble: (c: MatmulConfig) => (c.share !== 'none' ? SUBGROUP_PREAMBLE : ''),
  dispatch: (c: MatmulConfig, s: { M: number; N: number; K: number }) => ({ grid: matmulGrid(c, s.M, s.N, 1), uniforms: { M: s.M, N: s.N, K: s.K, kChunk: s.K } }),
  body: (c: MatmulConfig) => matmulBody({ ...c, splitK: false }),
  key: (c: MatmulConfig) => matmulKey({ ...c, splitK: false }),
});

/** Partial-sum half of the split-K pair: grid z = number of K slices; c holds [slices, M, N]. */
export const matmulSplitK = defineKernel({
  name: 'matmul.splitk',
  uniforms: MATMUL_UNIFORMS,
  bindings: {
    a: { access: 'read', type: (c: MatmulConfig) => v4(aVec(c)) },
    b: { access: 'read', type: (c: MatmulConfig) => v4(bVec(c)) },
    c: { access: 'read_write', type: (c: MatmulConfig) => v4(c.nVec) },
  },
  workgroupSize: () => [MATMUL_WG, 1, 1],
  preamble: (c: MatmulConfig) => (c.share !== 'none' ? SUBGROUP_PREAMBLE : ''),
  dispatch: (c: MatmulConfig, s: { M: number; N: number; K: number; splitK: number }) => {
    const { kChunk, slices } = matmulKSlices(s.K, s.splitK);
    return { grid: matmulGrid(c, s.M, s.N, slices), uniforms: { M: s.M, N: s.N, K: s.K, kChunk } };
  },
  body: (c: MatmulConfig) => matmulBody({ ...c, splitK: true }),
  key: (c: MatmulConfig) => matmulKey({ ...c, splitK: true }),
});

export interface MatmulReduceConfig {
  /** N % 4 == 0: vec4 arrays. */
  nVec: boolean;
  epilogue: EpilogueConfig;
  relu: boolean;
  /** Add `residual[i]` after the epilogue (see MatmulConfig.residual). */
  residual?: boolean;
}

/**
 * Reduce half of the split-K pair: c[i] = epilogue(sum_s partials[s*M*N + i]). One invocation per
 * element (vec4 of columns with nVec). Uniforms: n = M*N (in elements of the bound type), N
 * (columns, scalar units), slices. Grid: grid1d(ceil(n / MATMUL_WG)).
 */
export const matmulSplitKReduce = defineKernel({
  name: 'matmul.splitk-reduce',
  uniforms: { n: 'u32', N: 'u32', slices: 'u32' },
  bindings: {
    partials: { access: 'read', type: (c: MatmulReduceConfig) => v4(c.nVec) },
    scale: 'read',
    shift: 'read',
    residual: { access: 'read', type: (c: MatmulReduceConfig) => v4(c.nVec) },
    c: { access: 'read_write', type: (c: MatmulReduceConfig) => v4(c.nVec) },
  },
  workgroupSize: () => [MATMUL_WG, 1, 1],
  key: (c: MatmulReduceConfig) => `${c.nVec ? 'v4' : 'f1'}|${epilogueKey(c.epilogue)}${c.relu ? '+relu' : ''}${c.residual ? '+res' : ''}`,
  dispatch: (c: MatmulReduceConfig, s: { M: number; N: number; slices: number }) => {
    const n = c.nVec ? (s.M * s.N) / 4 : s.M * s.N;
    return { grid: grid1d(ceilDiv(n, MATMUL_WG)), uniforms: { n, N: s.N, slices: s.slices } };
  },
  body: (c: MatmulReduceConfig) => {
    const zero = c.nVec ? 'vec4<f32>(0.0)' : '0.0';
    const col = c.nVec ? '(i * 4u) % u.N' : 'i % u.N';
    const ep = c.nVec ? `epilogue4(s, ${col})` : `epilogue(s, ${col})`;
    const out = c.relu ? `max(${ep}, ${zero})` : ep;
    return wgsl`
${epilogueWgsl(c.epilogue)}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(MATMUL_WG)};
  if (i >= u.n) { return; }
  var s = ${zero};
  for (var z = 0u; z < u.slices; z += 1u) { s += partials[z * u.n + i]; }
  c[i] = ${c.residual ? `${out} + residual[i]` : out};
}`;
  },
});
