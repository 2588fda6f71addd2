// TF-Slim MobileNetV2 checkpoint dumped one .npy per variable (`Conv_weights.npy`,
// `expanded_conv_3_expand_BatchNorm_gamma.npy`, ...; an optional `MobilenetV2_` prefix and `/`
// separators are accepted) → Keras names. Keras' own MobileNetV2 weights were converted from these
// checkpoints, so the values carry over as they are: kernels are HWIO, depthwise [3,3,C,1], BN eps 1e-3.
//
//   Conv                      → Conv1 / bn_Conv1
//   expanded_conv_{depthwise,project}  → expanded_conv_{depthwise,project}(_BN)   (block 0, no expand)
//   expanded_conv_N_{expand,depthwise,project} → block_N_...(_BN)
//   Conv_1                    → Conv_1 / Conv_1_bn
//   Logits_Conv2d_1c_1x1_{weights,biases} → predictions/{kernel,bias} (1001 classes, 0 = background)
import { parseNpy } from './npy.js';
import { checkIsClean, checkWeights, expectedWeights, formatCheck, WeightMapError, type WeightMap } from './weight-map.js';

export interface TfSlimImport {
  weights: WeightMap;
  /** Inferred from the channel counts. */
  alpha: number;
  /** True when the head (`predictions/kernel` and `predictions/bias`) was mapped. */
  includeTop: boolean;
  classes?: number;
  /** Files not mapped, with why (non-.npy files, a head missing its other half, ...). */
  ignored: string[];
  /** Keras name → TF-Slim variable name. */
  sourceNames: Map<string, string>;
}

export interface TfSlimOptions {
  /**
   * Drop the head's class 0 (`background`) so a 1001-way TF-Slim head becomes Keras' 1000 classes
   * (label k+1 of the 1001-way list is Keras class k).
   */
  dropBackground?: boolean;
  /** Only these alphas are tried when inferring the width (default: Keras' 0.35 … 1.4). */
  alphas?: number[];
}

export const KERAS_ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];

/** Maps one TF-Slim variable name (without `.npy` / prefix) to its Keras name, or null. */
export function tfslimToKerasName(slim: string): string | null {
  const n = slim.replace(/\.npy$/, '').replace(/\//g, '_').replace(/^MobilenetV2_/, '').replace(/:0$/, '');
  let m: RegExpExecArray | null;
  if ((m = /^(Conv|Conv_1)_(weights|BatchNorm_(gamma|beta|moving_mean|moving_variance))$/.exec(n))) {
    const conv = m[1] === 'Conv' ? 'Conv1' : 'Conv_1';
    const bn = m[1] === 'Conv' ? 'bn_Conv1' : 'Conv_1_bn';
    return m[2] === 'weights' ? `${conv}/kernel` : `${bn}/${m[3]}`;
  }
  if ((m = /^expanded_conv(?:_(\d+))?_(expand|depthwise|project)_(depthwise_weights|weights|BatchNorm_(gamma|beta|moving_mean|moving_variance))$/.exec(n))) {
    const index = m[1] === undefined ? 0 : Number(m[1]);
    const prefix = index === 0 ? 'expanded_conv' : `block_${index}`;
    const part = m[2];
    if (m[3] === 'depthwise_weights') return part === 'depthwise' ? `${prefix}_depthwise/depthwise_kernel` : null;
    if (m[3] === 'weights') return part === 'depthwise' ? null : `${prefix}_${part}/kernel`;
    return `${prefix}_${part}_BN/${m[4]}`;
  }
  if ((m = /^Logits_Conv2d_1c_1x1_(weights|biases)$/.exec(n))) return m[1] === 'weights' ? 'predictions/kernel' : 'predictions/bias';
  return null;
}

/**
 * Maps a TF-Slim .npy dump onto Keras names. `files` maps file names (e.g. `Conv_weights.npy`) to
 * their bytes. Throws when a file cannot be parsed, a name is mapped twice, or the base does not
 * match Keras' MobileNetV2 for any alpha (listing missing/mis-shaped names).
 */
export function importTfSlim(files: Record<string, ArrayBuffer | ArrayBufferView>, opts: TfSlimOptions = {}): TfSlimImport {
  const weights: WeightMap = new Map();
  const sourceNames = new Map<string, string>();
  const ignored: string[] = [];
  for (const file of Object.keys(files).sort()) {
    const base = file.replace(/^.*[\\/]/, '');
    if (!base.endsWith('.npy')) {
      ignored.push(`${file} (not a .npy file)`);
      continue;
    }
    const keras = tfslimToKerasName(base);
    if (!keras) {
      ignored.push(`${file} (not a MobileNetV2 variable)`);
      continue;
    }
    if (weights.has(keras)) throw new WeightMapError(`TF-Slim import: ${file} and ${sourceNames.get(keras)} both map to ${keras}`);
    const a = parseNpy(files[file], file);
    // Keras shapes: the 1x1 logits conv becomes a Dense [in, classes]; everything else is as stored.
    const shape = keras === 'predictions/kernel' && a.shape.length === 4 ? [a.shape[2], a.shape[3]] : a.shape;
    weights.set(keras, { shape, data: a.data });
    sourceNames.set(keras, file);
  }

  // The head needs both halves.
  const k = weights.get('predictions/kernel');
  const b = weights.get('predictions/bias');
  if (!k || !b) {
    for (const name of ['predictions/kernel', 'predictions/bias']) {
      if (weights.has(name)) {
        ignored.push(`${sourceNames.get(name)} (the head's ${name === 'predictions/kernel' ? 'biases' : 'weights'} are missing, so the head is left out)`);
        weights.delete(name);
        sourceNames.delete(name);
      }
    }
  }
  let classes = k && b ? b.shape[0] : undefined;
  if (k && b && opts.dropBackground) {
    if (classes !== 1001) throw new WeightMapError(`TF-Slim import: dropBackground needs a 1001-class head, got ${classes}`);
    const [inC] = k.shape;
    const kd = new Float32Array(inC * 1000);
    for (let i = 0; i < inC; i++) kd.set(k.data.subarray(i * 1001 + 1, (i + 1) * 1001), i * 1000);
    weights.set('predictions/kernel', { shape: [inC, 1000], data: kd });
    weights.set('predictions/bias', { shape: [1000], data: b.data.slice(1) });
    classes = 1000;
  }

  const includeTop = classes !== undefined;
  const alpha = inferAlpha(weights, includeTop, classes, opts.alphas ?? KERAS_ALPHAS, 'TF-Slim import');
  return { weights, alpha, includeTop, classes, ignored, sourceNames };
}

/** The alpha whose Keras weight list the map matches exactly; throws with the closest mismatch report. */
export function inferAlpha(weights: WeightMap, includeTop: boolean, classes: number | undefined, alphas: number[], what: string): number {
  let best: { alpha: number; report: string; bad: number } | null = null;
  for (const alpha of alphas) {
    const c = checkWeights(weights, expectedWeights(alpha, 224, includeTop, classes ?? 1000));
    if (checkIsClean(c)) return alpha;
    const bad = c.missing.length + c.unexpected.length + c.mismatched.length;
    if (!best || bad < best.bad) best = { alpha, report: formatCheck(c), bad };
  }
  throw new WeightMapError(`${what}: the weights match no Keras MobileNetV2 (alpha ${alphas.join('/')}); closest is alpha=${best?.alpha}:\n${best?.report}`);
}
