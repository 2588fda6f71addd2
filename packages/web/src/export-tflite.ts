// The web trainer's TFLite export, as `mnv2 export --tflite` writes it (core's writer): float32, or
// full-integer int8 calibrated on a sample of the trainer's own images (min/max per activation, run
// on this worker's GPU), uint8/int8 input and output.
import { MobileNetV2Net, calibrateBatch, channelMeans, emptyRoundingMoments, encodeTflite, mobileNetV2Tflite, prepareImages, type ActivationRanges, type ChannelSums, type Engine, type WeightMap } from '@mnv2/core';
import type { RgbPixels, TfliteExportOptions } from './protocol.js';

export interface TfliteSource {
  weights: WeightMap;
  alpha: number;
  inputSize: number;
  /** The trainer's images (decoded on demand), to calibrate on. */
  images: (() => Promise<RgbPixels>)[];
}

/** The trained head: `dense` (K or 1 outputs), or a hidden dense(H, relu) + `dense_1`. */
export function trainedHead(w: WeightMap, what: string): { classes: number; denseName: string; hidden: number | null } {
  const hidden = w.has('dense_1/kernel') ? (w.get('dense/bias')?.data.length ?? null) : null;
  const denseName = hidden ? 'dense_1' : 'dense';
  const bias = w.get(`${denseName}/bias`);
  if (!bias || !w.has(`${denseName}/kernel`)) throw new Error(`${what}: the trained weights have no classifier head (${denseName}/kernel, ${denseName}/bias)`);
  return { classes: bias.data.length, denseName, hidden };
}

export async function trainerTflite(e: Engine, src: TfliteSource, opts: TfliteExportOptions = {}): Promise<Uint8Array> {
  const what = 'exportTflite';
  const w = src.weights;
  const head = trainedHead(w, what);
  if (opts.softmax && head.classes < 2) throw new Error(`${what}: softmax is for models of three or more classes; this two-class model has one output (a logit)`);
  const weight = (name: string) => {
    const v = w.get(name);
    if (!v) throw new Error(`${what}: the trained weights have no tensor '${name}'`);
    return v.data;
  };
  let quantize;
  if (opts.int8) {
    const n = Math.min(src.images.length, Math.max(1, Math.floor(opts.calibrationSize ?? 100)));
    if (n === 0) throw new Error(`${what}: int8 calibrates on the trainer's images, and it holds none`);
    // An even spread over the held images (they are grouped by class).
    const pick = Array.from({ length: n }, (_, i) => src.images[Math.floor((i * src.images.length) / n)]);
    const net = new MobileNetV2Net(e, { alpha: src.alpha, inputSize: src.inputSize, weights: (name) => w.get(name)?.data });
    const ranges: ActivationRanges = new Map();
    const sums: ChannelSums = new Map();
    // Adaptive rounding of the depthwise weights, as the CLI's default (bench/results/export-tflite-lavapipe.md).
    const moments = emptyRoundingMoments();
    for (let i = 0; i < pick.length; i += 8) {
      const imgs = await Promise.all(pick.slice(i, i + 8).map((load) => load()));
      const x = prepareImages(e, imgs, { size: src.inputSize, crop: 'none', preprocess: 'tf' });
      try {
        await calibrateBatch(e, net, { classes: head.classes, hidden: head.hidden, hiddenName: 'dense', denseName: head.denseName, weight }, x, ranges, sums, undefined, moments);
      } finally {
        x.dispose();
      }
    }
    quantize = { ranges, inputType: opts.inputType ?? 'int8', outputType: opts.outputType ?? 'int8', means: channelMeans(sums), moments } as const;
  }
  const graph = mobileNetV2Tflite({
    alpha: src.alpha,
    inputSize: src.inputSize,
    weight,
    head: { classes: head.classes, hidden: head.hidden, hiddenName: 'dense', denseName: head.denseName, softmax: !!opts.softmax },
    quantize,
    description: `MobileNetV2 alpha ${src.alpha} ${src.inputSize}x${src.inputSize} trained in the mnv2 web demo${opts.int8 ? ', int8' : ''}`,
  });
  return encodeTflite(graph);
}
