// Weights by Keras name, as every importer (npy/TF-Slim, safetensors, TFLite) produces them, and the
// adapter that feeds them to MobileNetV2Net. Shapes here are Keras shapes (pointwise [1,1,Cin,Cout],
// depthwise [3,3,C,1], Dense [in,out]); the network asks for squeezed shapes ([Cin,Cout], [3,3,C]) with
// the same data order, so the adapter checks the element count and the non-unit dims, and hands the
// data through unchanged.
import { kerasLayers, type KerasWeight } from '../nn/keras-layers.js';

export interface WeightTensor {
  /** Keras shape. */
  shape: number[];
  /** Row-major (C order) values. */
  data: Float32Array;
}

/** Weights by Keras name (`block_3_expand/kernel`), in the order the importer found them. */
export type WeightMap = Map<string, WeightTensor>;

export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
export const fmtShape = (shape: readonly number[]) => `[${shape.join(',')}]`;

/** Total number of values in a weight map. */
export function totalValues(map: WeightMap): number {
  let n = 0;
  for (const t of map.values()) n += t.data.length;
  return n;
}

/**
 * The weights Keras' `MobileNetV2(alpha, input_shape=(inputSize, inputSize, 3), include_top, classes)`
 * has, in layer order, with Keras shapes. Weight shapes do not depend on the input size.
 */
export function expectedWeights(alpha: number, inputSize = 224, includeTop = false, classes = 1000): KerasWeight[] {
  return kerasLayers({ alpha, inputSize, includeTop, classes }).flatMap((l) => l.weights);
}

export interface WeightCheck {
  missing: string[];
  unexpected: string[];
  /** `name: got [..], expected [..]` */
  mismatched: string[];
}

export const checkIsClean = (c: WeightCheck) => c.missing.length + c.unexpected.length + c.mismatched.length === 0;

/** Compares a weight map with the expected Keras weights (exact Keras shapes). */
export function checkWeights(map: WeightMap, expected: readonly { name: string; shape: readonly number[] }[]): WeightCheck {
  const exp = new Map(expected.map((w) => [w.name, w.shape]));
  const missing = expected.filter((w) => !map.has(w.name)).map((w) => w.name);
  const unexpected = [...map.keys()].filter((n) => !exp.has(n));
  const mismatched: string[] = [];
  for (const [name, t] of map) {
    const s = exp.get(name);
    if (!s) continue;
    if (t.data.length !== numel(t.shape)) {
      mismatched.push(`${name}: shape ${fmtShape(t.shape)} holds ${numel(t.shape)} values but data has ${t.data.length}`);
    } else if (!sameShape(t.shape, s)) mismatched.push(`${name}: got ${fmtShape(t.shape)}, expected ${fmtShape(s)}`);
  }
  return { missing, unexpected, mismatched };
}

/** A readable multi-line report of a check (empty string when clean). */
export function formatCheck(c: WeightCheck, limit = 20): string {
  const list = (title: string, xs: string[]) =>
    xs.length ? [`${title} (${xs.length}): ${xs.slice(0, limit).join(', ')}${xs.length > limit ? `, … ${xs.length - limit} more` : ''}`] : [];
  return [...list('missing', c.missing), ...list('unexpected', c.unexpected), ...list('shape mismatch', c.mismatched)].join('\n');
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1);

/** True when two shapes hold the same data in the same order up to unit dims ([1,1,16,96] ~ [16,96]). */
export function compatibleShapes(a: readonly number[], b: readonly number[]): boolean {
  return numel(a) === numel(b) && sameShape(squeeze(a), squeeze(b));
}

export class WeightMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightMapError';
  }
}

export interface WeightSourceOptions {
  /**
   * Check the map against Keras' weight list first and throw (listing every missing, unexpected and
   * mis-shaped name) unless they match exactly. Needs the model's `alpha` (and `includeTop`/`classes`
   * when the map holds a head). In strict mode a name the network asks for that is not in the map
   * throws too, instead of falling back to the network's initialiser.
   */
  strict?: boolean;
  alpha?: number;
  includeTop?: boolean;
  classes?: number;
  /** Where the weights came from, for error messages (a file name). */
  source?: string;
}

/**
 * Adapts a weight map to `MobileNetV2Options.weights`: `(name, shape) => data | undefined`. The
 * requested (squeezed) shape must hold the same values as the stored Keras shape, else it throws an
 * error naming the tensor and both shapes. Without `strict`, names not in the map return undefined
 * (the network initialises them like Keras).
 */
export function weightSource(map: WeightMap, opts: WeightSourceOptions = {}): (name: string, shape: number[]) => Float32Array | undefined {
  const src = opts.source ? ` (${opts.source})` : '';
  if (opts.strict) {
    if (opts.alpha === undefined) throw new WeightMapError('weightSource: strict mode needs the model alpha');
    const c = checkWeights(map, expectedWeights(opts.alpha, 224, opts.includeTop ?? false, opts.classes ?? 1000));
    if (!checkIsClean(c)) {
      throw new WeightMapError(`weights${src} do not match Keras MobileNetV2 alpha=${opts.alpha}${opts.includeTop ? ` with a ${opts.classes ?? 1000}-class top` : ' (no top)'}:\n${formatCheck(c)}`);
    }
  }
  return (name, shape) => {
    const t = map.get(name);
    if (!t) {
      if (opts.strict) throw new WeightMapError(`weights${src}: no tensor named ${name} (the network asks for ${fmtShape(shape)})`);
      return undefined;
    }
    if (t.data.length !== numel(t.shape)) {
      throw new WeightMapError(`weights${src}: tensor ${name} has shape ${fmtShape(t.shape)} but ${t.data.length} values`);
    }
    if (!compatibleShapes(t.shape, shape)) {
      throw new WeightMapError(
        `weights${src}: tensor ${name} has shape ${fmtShape(t.shape)} (${t.data.length} values) but the network needs ${fmtShape(shape)} (${numel(shape)} values)`,
      );
    }
    return t.data;
  };
}

/**
 * For export: gives each tensor its Keras shape (e.g. a pointwise kernel read back from the network as
 * [Cin,Cout] becomes [1,1,Cin,Cout]) where the expected list has that name with a compatible shape;
 * other tensors (a custom head) keep theirs. Data is shared, not copied.
 */
export function withKerasShapes(map: WeightMap, expected: readonly { name: string; shape: readonly number[] }[]): WeightMap {
  const exp = new Map(expected.map((w) => [w.name, w.shape]));
  const out: WeightMap = new Map();
  for (const [name, t] of map) {
    const s = exp.get(name);
    out.set(name, { shape: s && compatibleShapes(s, t.shape) ? [...s] : t.shape, data: t.data });
  }
  return out;
}
