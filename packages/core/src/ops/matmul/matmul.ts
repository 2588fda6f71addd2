// Matmul op: C[M,N] = op(A)·op(B) with the fused epilogue, transposes read in place (no copies),
// split-K (partial sums + reduce) when the output alone is too small to keep every core busy.
// pointwise-conv2d.ts and dense.ts are thin shape adapters over `matmulDispatch`.
import {
  type EpilogueConfig,
  type MatmulConfig,
  type MatmulTile,
  matmul as matmulKernel,
  matmulKSlices,
  matmulSplitK,
  matmulSplitKReduce,
  matmulWorkgroups,
  matmulVecPath,
  splitCount,
} from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { DType, Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import { type Epilogue, resolveEpilogue } from '../epilogue.js';
import { run } from '../run.js';
import { tunedMatmul } from './tuning-registry.js';

/** How a matmul is cut up: the per-invocation block and the number of K slices (1 = no split-K). */
export interface MatmulVariant {
  tile: MatmulTile;
  splitK: number;
}

export interface MatmulOptions {
  /** A is stored [K, M] (read transposed). */
  transA?: boolean;
  /** B is stored [N, K] (read transposed). */
  transB?: boolean;
  epilogue?: Epilogue;
  /** Override the block shape / split-K choice (tuning and benchmarks); missing fields use the heuristic. */
  variant?: Partial<MatmulVariant>;
}

/** Workgroups below which the output alone cannot keep the adapter busy (lavapipe: 2 cores, 1 workgroup per thread). */
const MIN_WORKGROUPS = 16;
/** The smallest K slice worth a split (below it the reduce pass costs more than it saves). */
const MIN_K_PER_SLICE = 256;

/** What the tile heuristic needs to know about a product and the device. */
export interface MatmulShapeInfo {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** The adapter runs subgroups of exactly 8 lanes (lavapipe on AVX2): the shared-load forms work. */
  subgroups8: boolean;
}

const sg8Cache = new WeakMap<Engine, boolean>();

/** True when the device has the 'subgroups' feature and every subgroup is 8 lanes wide. */
export function hasSubgroups8(e: Engine): boolean {
  let v = sg8Cache.get(e);
  if (v === undefined) {
    const d = e.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } };
    const info = d.adapterInfo;
    v = d.features.has('subgroups') && info?.subgroupMinSize === 8 && info?.subgroupMaxSize === 8;
    sg8Cache.set(e, v);
  }
  return v;
}

/**
 * The default block shape (measured on lavapipe, see bench/results/kernels-lavapipe.md): with
 * 8-lane subgroups and vec4 loads everywhere, the shared-load forms; otherwise 4x8 per invocation
 * (32 outputs), fewer rows when M is tiny (the dense head at batch 1), 4 columns when N <= 4.
 */
export function defaultMatmulTile(s: MatmulShapeInfo): MatmulTile {
  const { M, N } = s;
  const vec = matmulVecPath({ transA: s.transA, transB: s.transB, kVec: s.K % 4 === 0, mVec: s.transA && M % 4 === 0, nVec: N % 4 === 0 });
  if (s.subgroups8 && vec) {
    // A subgroup covers 8*bm rows x bn columns ('b') or bm rows x 8*bn columns ('a'): pick a form
    // the output fills. Measured on MobileNetV2's shapes (bench/README.md, "tuning"):
    if (!s.transA) {
      // pixels x channels (pointwise forward, backward-input; the dense head from batch 16)
      if (M >= 16 && N >= 16) return { bm: 2, bn: 16, map: 'n-fast', share: 'b' };
      if (M >= 32 && N >= 8) return { bm: 4, bn: 8, map: 'n-fast', share: 'b' };
    } else {
      // channels x channels reduced over pixels (weight gradients; split-K when K is long)
      if (s.K <= 64 && M >= 64 && N >= 64) return { bm: 8, bn: 8, map: 'n-fast', share: 'b' };
      if (M >= 32 && N >= 64 && N % 16 === 0) return { bm: 4, bn: 16, map: 'n-fast', share: 'b' };
      if (M >= 32 && N >= 8) return { bm: 4, bn: 8, map: 'n-fast', share: 'b' };
    }
    if (M >= 8 && N >= 32) return { bm: 8, bn: 4, map: 'n-fast', share: 'a' };
  }
  const bm = M >= 4 ? 4 : M >= 2 ? 2 : 1;
  const bn = N <= 4 ? 4 : 8;
  return { bm, bn, map: 'n-fast', share: 'none' };
}

/** Number of K slices: 1 unless the output is too small to fill MIN_WORKGROUPS and K is long. */
export function defaultSplitK(M: number, N: number, K: number, tile: MatmulTile): number {
  return splitCount(MIN_WORKGROUPS, matmulWorkgroups(M, N, tile), Math.floor(K / MIN_K_PER_SLICE));
}

export function chooseMatmulVariant(s: MatmulShapeInfo, override: Partial<MatmulVariant> = {}): MatmulVariant {
  const tile = override.tile ?? defaultMatmulTile(s);
  return { tile, splitK: override.splitK ?? defaultSplitK(s.M, s.N, s.K, tile) };
}

export interface MatmulDims {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

/**
 * Records C = op(A)·op(B) (+ epilogue, + optional plain ReLU) into a new tensor of `outShape`
 * (M*N elements). Shapes must already be validated by the caller.
 */
export function matmulDispatch(
  e: Engine,
  op: string,
  a: Tensor,
  b: Tensor,
  dims: MatmulDims,
  outShape: readonly number[],
  opts: {
    epilogue?: Epilogue;
    relu?: boolean;
    variant?: Partial<MatmulVariant>;
    /** output storage, default f32 */
    dtype?: DType;
    /** Added to the output after the epilogue (M*N values, the output's layout): a fused shortcut. */
    residual?: Tensor;
  } = {},
): Tensor {
  const { M, N, K, transA, transB } = dims;
  const ep = resolveEpilogue(e, op, opts.epilogue, N);
  const residual = opts.residual;
  if (residual && residual.size !== M * N) throw new ShapeError(op, 'residual must have the output\'s shape', { residual: residual.shape, output: outShape });
  // An explicit variant wins; else this adapter's tuned choice for the shape (when one was loaded
  // and is usable here); else the heuristic.
  const tuned = opts.variant ? null : tunedMatmul(e, dims);
  const usable = tuned && (tuned.tile.share === 'none' || hasSubgroups8(e)) ? { tile: tuned.tile, splitK: tuned.splitK } : undefined;
  const chosen = chooseMatmulVariant({ ...dims, subgroups8: hasSubgroups8(e) }, opts.variant ?? usable);
  const { splitK } = chosen;
  let tile = chosen.tile;
  // The shared-load forms exchange operands between exactly 8 lanes: on other subgroup sizes (e.g.
  // SwiftShader's 4) they would compute garbage, so a variant asking for one is refused.
  if (tile.share !== 'none' && !hasSubgroups8(e)) {
    const info = (e.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
    const sizes = e.device.features.has('subgroups') ? `${info?.subgroupMinSize ?? '?'}..${info?.subgroupMaxSize ?? '?'} lanes` : 'no subgroups';
    throw new Error(`${op}: the subgroup-shared matmul form (share '${tile.share}') needs subgroups of exactly 8 lanes, but this adapter has ${sizes}: use a tile with share 'none'`);
  }
  const cfg: MatmulConfig = {
    ...tile,
    transA,
    transB,
    kVec: K % 4 === 0,
    mVec: transA && M % 4 === 0 && tile.bm % 4 === 0,
    nVec: N % 4 === 0,
    splitK: false,
    epilogue: ep.cfg,
    relu: !!opts.relu,
    residual: !!residual,
  };
  // The shared-load forms need vec4 loads of both operands; odd shapes take the plain form.
  if (tile.share !== 'none' && !matmulVecPath(cfg)) {
    tile = { ...tile, share: 'none' };
    cfg.share = 'none';
  }
  const out = e.alloc(outShape, opts.dtype ?? 'f32');
  const { slices } = matmulKSlices(K, splitK);
  if (slices <= 1) {
    run(e, matmulKernel, cfg, { M, N, K }, { a, b, scale: ep.scale, shift: ep.shift, residual: residual ?? ep.shift, c: out });
    return out;
  }
  const partials = e.alloc([slices, M, N], 'f32', `${op}.partials`);
  run(e, matmulSplitK, { ...cfg, splitK: true }, { M, N, K, splitK }, { a, b, c: partials });
  const reduceCfg: { nVec: boolean; epilogue: EpilogueConfig; relu: boolean; residual: boolean } = { nVec: cfg.nVec, epilogue: ep.cfg, relu: cfg.relu, residual: !!residual };
  run(e, matmulSplitKReduce, reduceCfg, { M, N, slices }, { partials, scale: ep.scale, shift: ep.shift, residual: residual ?? ep.shift, c: out });
  partials.dispose();
  return out;
}

export function assertMatrix(op: string, name: string, t: Tensor): void {
  if (t.shape.length !== 2 || t.shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(op, `${name} must be a 2D matrix with positive dims`, { [name]: t.shape });
  }
}

/** C[M,N] = op(A)·op(B): A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with transB). */
export function matmul(e: Engine, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  assertMatrix(op, 'a', a);
  assertMatrix(op, 'b', b);
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  const [M, Ka] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [Kb, N] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (Ka !== Kb) {
    throw new ShapeError(op, `inner dimensions differ (${Ka} vs ${Kb})`, { a: a.shape, b: b.shape, transA: String(transA), transB: String(transB) });
  }
  return matmulDispatch(e, op, a, b, { M, N, K: Ka, transA, transB }, [M, N], { epilogue: opts.epilogue, variant: opts.variant });
}
