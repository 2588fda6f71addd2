// Matching an imported graph's conv ops against MobileNetV2's unit sequence (nn/architecture.ts
// `units(alpha)`), shared by the ONNX and TFLite importers: the width is the first alpha whose
// sequence fits; otherwise the failure that got furthest names the closest alpha.
import { units, type UnitSpec } from '../nn/architecture.js';
import type { WeightMap } from './weight-map.js';

/** The graph does not fit the sequence at unit `depth` (-1: before any unit, e.g. too few ops). */
export class MappingError extends Error {
  constructor(
    message: string,
    readonly depth: number,
  ) {
    super(message);
  }
}

/**
 * `map(units(alpha), alpha)` for the first alpha that throws no MappingError; otherwise throws
 * `fail(closest)`, closest = the alpha and message that mapped furthest (null: no alpha tried).
 */
export function matchWidth<T>(
  alphas: readonly number[],
  map: (seq: UnitSpec[], alpha: number) => T,
  fail: (closest: { alpha: number; message: string } | null) => Error,
): T & { alpha: number } {
  let best: { alpha: number; message: string; depth: number } | null = null;
  for (const alpha of alphas) {
    try {
      return { ...map(units(alpha), alpha), alpha };
    } catch (e) {
      if (!(e instanceof MappingError)) throw e;
      if (!best || e.depth > best.depth) best = { alpha, message: e.message, depth: e.depth };
    }
  }
  throw fail(best);
}

/**
 * A unit whose BatchNorm is folded into the conv (kernel·γ/σ, bias β − μγ/σ, as TFLite and tf2onnx
 * export it): its Keras kernel, and a BN that passes the folded values through (gamma 1, beta = bias,
 * mean 0, variance 1 − eps, so (z − 0)/sqrt(1 − eps + eps)·1 + bias = z + bias).
 */
export function setFoldedUnit(weights: WeightMap, u: UnitSpec, kernel: { name: string; shape: number[]; data: Float32Array }, bias: Float32Array, eps: number, where: string, depth: number): void {
  if (bias.length !== u.outC) throw new MappingError(`${where}: bias has ${bias.length} values, expected ${u.outC}`, depth);
  weights.set(kernel.name, { shape: kernel.shape, data: kernel.data });
  weights.set(`${u.bn}/gamma`, { shape: [u.outC], data: new Float32Array(u.outC).fill(1) });
  weights.set(`${u.bn}/beta`, { shape: [u.outC], data: bias });
  weights.set(`${u.bn}/moving_mean`, { shape: [u.outC], data: new Float32Array(u.outC) });
  weights.set(`${u.bn}/moving_variance`, { shape: [u.outC], data: new Float32Array(u.outC).fill(1 - eps) });
}
