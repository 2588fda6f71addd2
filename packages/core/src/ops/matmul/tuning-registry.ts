// Which matmul variant each product uses on an engine when a tuning was loaded (see tuning.ts):
// the choices by shape, and a recorder of the products a piece of work runs. No import of the op
// itself, so matmul.ts can consult it.
import type { MatmulTile } from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { MatmulDims } from './matmul.js';

/** One tuned product: the variant that won, its time and the heuristic's, in ms per run. */
export interface TunedMatmul {
  tile: MatmulTile;
  splitK: number;
  ms: number;
  defaultMs: number;
}

/** What the tuner found on one adapter (JSON: the CLI stores it per adapter). */
export interface MatmulTuning {
  version: 1;
  /** The adapter it was measured on (vendor / architecture / device / description). */
  adapter: string;
  /** ISO date of the measurement. */
  date: string;
  /** matmulShapeKey → the winning variant. */
  choices: Record<string, TunedMatmul>;
}

/** `MxKxN` plus the transposes, e.g. `12544x32x16` or `32x12544x16tA`. */
export function matmulShapeKey(d: MatmulDims): string {
  return `${d.M}x${d.K}x${d.N}${d.transA ? 'tA' : ''}${d.transB ? 'tB' : ''}`;
}

/** The adapter a tuning belongs to, from the device's adapter info. */
export function adapterKey(e: Engine): string {
  const i = (e.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return [i?.vendor, i?.architecture, i?.device, i?.description].filter((s) => s && String(s).length > 0).join(' / ') || 'unknown adapter';
}

const tunings = new WeakMap<Engine, MatmulTuning>();
const recorders = new WeakMap<Engine, Map<string, MatmulDims>>();

/**
 * Uses `t` for this engine's matmuls (null: back to the heuristic). A tuning of another adapter is
 * refused (its choices would be guesses here); returns whether it was taken.
 */
export function setMatmulTuning(e: Engine, t: MatmulTuning | null): boolean {
  if (!t) {
    tunings.delete(e);
    return false;
  }
  if (t.version !== 1 || t.adapter !== adapterKey(e)) return false;
  tunings.set(e, t);
  return true;
}

export function matmulTuningOf(e: Engine): MatmulTuning | null {
  return tunings.get(e) ?? null;
}

/** The tuned choice of this product on this engine, if any (recording the product when asked to). */
export function tunedMatmul(e: Engine, d: MatmulDims): TunedMatmul | null {
  const rec = recorders.get(e);
  if (rec) rec.set(matmulShapeKey(d), { M: d.M, N: d.N, K: d.K, transA: d.transA, transB: d.transB });
  return tunings.get(e)?.choices[matmulShapeKey(d)] ?? null;
}

/** The distinct matmul products `fn` runs on `e` (it runs normally; e.g. a forward and a training step). */
export async function recordMatmulShapes(e: Engine, fn: () => Promise<void> | void): Promise<MatmulDims[]> {
  const rec = new Map<string, MatmulDims>();
  recorders.set(e, rec);
  try {
    await fn();
  } finally {
    recorders.delete(e);
  }
  return [...rec.values()];
}

