// Matching an imported graph's conv ops against MobileNetV2's unit sequence (nn/architecture.ts
// `units(alpha)`), shared by the ONNX and TFLite importers: the width is the first alpha whose
// sequence fits; otherwise the failure that got furthest names the closest alpha.
import { units, type UnitSpec } from '../nn/architecture.js';

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
