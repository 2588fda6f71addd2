// Keras .h5 fixtures: random MobileNetV2 weights written with core's Keras .h5 writer (export/keras-h5-writer.ts)
// in the published files' layout (Keras 2.1.6 attrs, optionally their legacy layer names).
import { kerasLayers, kerasLayerSpecs, kerasWeightsFileName, writeKerasH5 as coreWriteKerasH5, type H5LayerSpec, type WeightMap, type WriteKerasH5Options } from '@mnv2/core';
import { rng } from '../helpers/random.js';

// The writer is core's (mnv2 export --keras-h5 uses it); fixtures default to the published files' Keras version.
export { kerasLayerSpecs, legacyName, type H5LayerSpec, type H5WeightSpec, type WriteKerasH5Options } from '@mnv2/core';
export const writeKerasH5 = (layers: H5LayerSpec[], opts: WriteKerasH5Options = {}) => coreWriteKerasH5(layers, { kerasVersion: '2.1.6', ...opts });

/** Random weights for Keras' MobileNetV2 (seeded; BN variances positive). */
export function randomKerasWeights(alpha: number, includeTop: boolean, classes = 1000, seed = 1): WeightMap {
  const r = rng(seed);
  const m: WeightMap = new Map();
  for (const l of kerasLayers({ alpha, inputSize: 224, includeTop, classes })) {
    for (const w of l.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      const variance = w.name.endsWith('moving_variance');
      for (let i = 0; i < n; i++) data[i] = variance ? 0.5 + r() : r() * 2 - 1;
      m.set(w.name, { shape: [...w.shape], data });
    }
  }
  return m;
}

export interface KerasFixture {
  bytes: Uint8Array;
  weights: WeightMap;
  fileName: string;
}

/** A small published-style file: alpha 0.35, size 96, no top by default, legacy names optional. */
export async function kerasFixture(
  opts: { alpha?: number; size?: number; includeTop?: boolean; classes?: number; seed?: number; names?: 'keras' | 'legacy' } & WriteKerasH5Options = {},
): Promise<KerasFixture> {
  const alpha = opts.alpha ?? 0.35;
  const size = opts.size ?? 96;
  const includeTop = opts.includeTop ?? false;
  const weights = randomKerasWeights(alpha, includeTop, opts.classes ?? 1000, opts.seed ?? 1);
  const layers = kerasLayerSpecs(weights, { alpha, inputSize: size, includeTop, classes: opts.classes, names: opts.names });
  const bytes = await writeKerasH5(layers, { inputSize: size, ...opts });
  return { bytes, weights, fileName: kerasWeightsFileName(alpha, size, includeTop) };
}
