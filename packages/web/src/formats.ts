// Weight formats, DOM-free (tests import it in Node): sniffing by content, and import with core's
// platform-neutral readers (safetensors first, TFLite, ONNX, Keras .h5), errors naming the source.
import {
  classifierInfo,
  importKerasH5,
  importOnnx,
  importTflite,
  inferAlpha,
  KERAS_ALPHAS,
  parseSafetensors,
  type ClassifierInfo,
  type PaddingMode,
  type PreprocessMode,
  type WeightMap,
} from '@mnv2/core';

export class WeightsLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsLoadError';
  }
}

export type WeightsFormat = 'tflite' | 'safetensors' | 'onnx' | 'keras-h5';

export function sniffFormat(bytes: Uint8Array, source: string): WeightsFormat {
  const ext = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(source)?.[1]?.toLowerCase();
  const ascii = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  if (bytes.length >= 8 && ascii(4, 8) === 'TFL3') return 'tflite';
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(1, 4) === 'HDF') return 'keras-h5';
  if (bytes.length >= 9) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
    if (dv.getUint32(0, true) > 1 && dv.getUint32(4, true) === 0 && bytes[8] === 0x7b) return 'safetensors';
  }
  if (ext === 'onnx') return 'onnx';
  if (ext === 'tflite' || ext === 'safetensors' || ext === 'h5') {
    throw new WeightsLoadError(`weights '${source}' are not a valid .${ext} file (the header is wrong: truncated or corrupt download?)`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x3c) throw new WeightsLoadError(`weights '${source}' are an HTML/XML page, not a weights file (wrong URL?)`);
  throw new WeightsLoadError(`weights '${source}': unknown format; use a .safetensors, .tflite, .onnx or Keras .h5 file of MobileNetV2`);
}

export interface ImportedWeights {
  format: WeightsFormat;
  weights: WeightMap;
  /** safetensors metadata (mnv2 writes classes, input_size, ...). */
  metadata: Record<string, string>;
  /** Classifier info when the weights carry an ImageNet head (`predictions/*`). */
  classifier: ClassifierInfo | null;
  alpha: number;
  description: string;
}

/** Imports any format core reads; errors name the source and say what is wrong. */
export async function importWeights(bytes: Uint8Array, source: string): Promise<ImportedWeights> {
  const format = sniffFormat(bytes, source);
  try {
    if (format === 'tflite') {
      const { weights, info: t } = importTflite(bytes, source);
      const classifier = t.classes === undefined ? null : classifierInfo(weights, { source, alpha: t.alpha, inputSize: t.inputSize, classes: t.classes, background: t.background, preprocess: 'tf', padding: 'same', epsilon: t.epsilon });
      const q = t.inputQuantization ? `quantized (${t.inputQuantization.type} input), dequantized to float` : 'float';
      return { format, weights, metadata: {}, classifier, alpha: t.alpha, description: `TFLite ${q}, alpha ${t.alpha}, ${t.inputSize}x${t.inputSize}${t.classes ? `, ${t.classes} classes` : ', no head'}` };
    }
    if (format === 'onnx') {
      const { weights, info: o } = importOnnx(bytes, source);
      const classifier = o.classes === undefined ? null : classifierInfo(weights, { source, alpha: o.alpha, inputSize: o.inputSize, classes: o.classes, preprocess: 'torch', padding: 'symmetric', epsilon: o.epsilon });
      return { format, weights, metadata: {}, classifier, alpha: o.alpha, description: `ONNX, alpha ${o.alpha}, ${o.inputSize}x${o.inputSize}${o.classes ? `, ${o.classes} classes` : ''}` };
    }
    if (format === 'keras-h5') {
      const h = await importKerasH5(bytes, { file: source });
      const classifier = h.includeTop ? classifierInfo(h.weights, { source, alpha: h.alpha, inputSize: h.inputSize, classes: h.classes, preprocess: 'tf', padding: 'same' }) : null;
      return { format, weights: h.weights, metadata: {}, classifier, alpha: h.alpha, description: `Keras .h5, alpha ${h.alpha}` };
    }
    const st = parseSafetensors(bytes, source);
    const m = st.metadata;
    const hasImagenetHead = st.weights.has('predictions/kernel');
    let classifier: ClassifierInfo | null = null;
    if (hasImagenetHead) {
      const pre = (['tf', 'torch', 'none'] as const).find((p) => p === m.preprocess) as PreprocessMode | undefined;
      const pad = (['same', 'symmetric'] as const).find((p) => p === m.padding) as PaddingMode | undefined;
      const size = Number(m.input_size ?? m.inputSize);
      const eps = Number(m.epsilon);
      classifier = classifierInfo(st.weights, { source, preprocess: pre, padding: pad, inputSize: Number.isInteger(size) && size >= 32 ? size : undefined, epsilon: Number.isFinite(eps) && eps > 0 ? eps : undefined });
    }
    const metaAlpha = Number(m.alpha);
    const alpha = classifier?.alpha ?? (Number.isFinite(metaAlpha) && metaAlpha > 0 ? metaAlpha : inferAlpha(st.weights, false, undefined, KERAS_ALPHAS, `weights '${source}'`));
    return { format, weights: st.weights, metadata: m, classifier, alpha, description: `safetensors, alpha ${alpha}${m.format === 'mnv2' ? ' (mnv2 trained model)' : ''}` };
  } catch (e) {
    if (e instanceof WeightsLoadError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new WeightsLoadError(msg.includes(source) ? `cannot load weights: ${msg}` : `cannot load weights '${source}': ${msg}`);
  }
}
