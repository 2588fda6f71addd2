// A pretrained ImageNet classifier: MobileNetV2 with Keras' include_top head (global average pooling →
// Dense → softmax), built from a Keras-named WeightMap (any importer: TFLite, TF-Slim npy, safetensors),
// plus the image side (decoded RGB bytes → resized, preprocessed batch on the GPU) and top-k on the host.
// Platform-neutral: images arrive as RGB bytes, weights as a map; nothing here reads files.
//
// Inference runs MobileNetV2Net.forward with training:false, i.e. one fused conv+BN+ReLU6 kernel per unit.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import type { PaddingMode } from '../ops/conv/index.js';
import { aspectCropBox, resizeImages, type CropBox, type PreprocessMode } from '../ops/image/index.js';
import { uploadImageSized } from '../data/u8-rows.js';
import { softmax } from '../ops/loss/index.js';
import { MobileNetV2Net } from '../nn/mobilenet-v2.js';
import { KERAS_ALPHAS, inferAlpha } from '../io/tfslim.js';
import { WeightMapError, fmtShape, weightSource, type WeightMap } from '../io/weight-map.js';

export interface ClassifierInfo {
  alpha: number;
  /** Input size the weights were trained at (the network runs at this size). */
  inputSize: number;
  /** Outputs of the head: 1000 (Keras order) or 1001 (TF-Slim: index 0 = background, k+1 = Keras k). */
  classes: number;
  /** Index 0 is `background`. */
  background: boolean;
  /** Input scaling the weights expect: 'tf' = [-1, 1] for Keras/TF weights. */
  preprocess: PreprocessMode;
  /** 'same' (TF/Keras) or 'symmetric' (PyTorch-derived weights). */
  padding: PaddingMode;
  /** BatchNorm epsilon the weights were made for (Keras 1e-3). */
  epsilon: number;
  /** Where the weights came from (a file), for messages. */
  source: string;
}

/**
 * Fills in what a weight map implies: alpha (from the channel counts, Keras' widths) and classes (from
 * `predictions/bias`). Throws naming `source` when the map has no classifier head or is not MobileNetV2.
 */
export function classifierInfo(weights: WeightMap, partial: Partial<ClassifierInfo> & { source: string }): ClassifierInfo {
  const { source } = partial;
  const bias = weights.get('predictions/bias');
  const kernel = weights.get('predictions/kernel');
  if (!bias || !kernel) {
    throw new WeightMapError(
      `weights '${source}' have no classifier head (predictions/kernel and predictions/bias): they are a feature extractor (include_top=False), not an ImageNet classifier`,
    );
  }
  if (bias.shape.length !== 1) throw new WeightMapError(`weights '${source}': predictions/bias has shape ${fmtShape(bias.shape)}, expected [classes]`);
  const classes = partial.classes ?? bias.shape[0];
  const alpha = partial.alpha ?? inferAlpha(weights, true, classes, KERAS_ALPHAS, `weights '${source}'`);
  return {
    alpha,
    inputSize: partial.inputSize ?? 224,
    classes,
    background: partial.background ?? classes === 1001,
    preprocess: partial.preprocess ?? 'tf',
    padding: partial.padding ?? 'same',
    epsilon: partial.epsilon ?? 1e-3,
    source,
  };
}

/**
 * MobileNetV2 with the Keras top (avg pool → Dense `predictions`, no dropout) loaded from `weights`.
 * Every base weight and the head must be in the map with matching shapes (errors name `info.source`).
 */
export function buildClassifier(e: Engine, weights: WeightMap, info: ClassifierInfo): MobileNetV2Net {
  const src = weightSource(weights, { strict: true, alpha: info.alpha, includeTop: true, classes: info.classes, source: info.source });
  const net = new MobileNetV2Net(e, {
    alpha: info.alpha,
    inputSize: info.inputSize,
    head: { classes: info.classes, pooling: 'avg', dropout: 0, denseName: 'predictions', poolName: 'global_average_pooling2d' },
    padding: info.padding,
    epsilon: info.epsilon,
    weights: src,
  });
  // The head initialises itself (Glorot); replace its Dense with the stored one.
  const dense = net.head!.layers[net.head!.layers.length - 1];
  const lastC = net.arch.lastChannels;
  for (const [p, name, shape] of [
    [dense.w, 'predictions/kernel', [lastC, info.classes]],
    [dense.b, 'predictions/bias', [info.classes]],
  ] as const) {
    const data = src(name, [...shape])!;
    p.value.dispose();
    p.value = e.upload(data, shape);
  }
  return net;
}

/** Decoded image: RGB bytes, row-major, 3 per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/**
 * How an image becomes the square network input: 'none' = resize the whole image (Keras
 * `image.load_img(target_size=…)` / tf.image.resize, bilinear, no antialias); 'center' = the largest
 * centred square, then resize (Keras `crop_to_aspect_ratio=True`); a number f in (0, 1] = TF-Slim's
 * evaluation crop `tf.image.central_crop(image, f)` (0.875 for its published accuracy), then resize.
 */
export type CropMode = 'none' | 'center' | number;

export function cropFor(height: number, width: number, size: number, crop: CropMode): CropBox {
  if (crop === 'none') return { top: 0, left: 0, height, width };
  if (crop === 'center') return aspectCropBox(height, width, size, size);
  if (!(crop > 0 && crop <= 1)) throw new RangeError(`crop fraction must be in (0, 1], got ${crop}`);
  // tf.image.central_crop: start = int((dim − dim·f) / 2), size = dim − 2·start.
  const top = Math.trunc((height - height * crop) / 2);
  const left = Math.trunc((width - width * crop) / 2);
  return { top, left, height: height - 2 * top, width: width - 2 * left };
}

export interface PrepareOptions {
  /** Network input size (square). */
  size: number;
  crop?: CropMode;
  preprocess?: PreprocessMode;
}

/**
 * Uploads decoded images (any sizes) as packed bytes and resizes + preprocesses each on the GPU into
 * one [N, size, size, 3] f32 batch. The caller owns the result (it is not in a tidy scope unless
 * called inside one).
 */
export function prepareImages(e: Engine, images: readonly RgbImage[], opts: PrepareOptions): Tensor {
  if (images.length === 0) throw new Error('prepareImages: no images');
  const { size } = opts;
  const out = e.alloc([images.length, size, size, 3]);
  images.forEach((img, i) => {
    if (img.rgb.length !== img.width * img.height * 3) {
      throw new Error(`prepareImages: image ${i} is ${img.width}x${img.height} but has ${img.rgb.length} bytes, expected ${img.width * img.height * 3} (RGB)`);
    }
    const shape = [1, img.height, img.width, 3] as const;
    const src = uploadImageSized(e, img.rgb); // a size class, not one pooled buffer per image size
    resizeImages(e, src, { height: size, width: size, srcShape: shape, crop: cropFor(img.height, img.width, size, opts.crop ?? 'none'), preprocess: opts.preprocess ?? 'tf', out, outIndex: i });
    src.dispose(); // back to the pool; a later upload flushes this resize first, so it is not overwritten early
  });
  return out;
}

/** Values per image of the network's largest activation (MobileNetV2 at 224: block_1_expand, 112·112·96). */
export function largestActivation(net: MobileNetV2Net): number {
  const out = (s: number, stride: number) => Math.ceil(s / stride); // 'same' and 'symmetric' agree for 3x3
  let s = out(net.inputSize, 2);
  let biggest = Math.max(net.inputSize * net.inputSize * 3, s * s * net.arch.stemChannels);
  for (const b of net.arch.blocks) {
    const so = out(s, b.stride);
    biggest = Math.max(biggest, s * s * b.expandedChannels, so * so * b.expandedChannels, so * so * b.outChannels);
    s = so;
  }
  return Math.max(biggest, s * s * net.arch.lastChannels);
}

/** Class probabilities [N, classes] of a preprocessed batch (recorded, not read; caller owns it). */
export function classifyTensor(e: Engine, net: MobileNetV2Net, x: Tensor): Tensor {
  if (!net.head) throw new Error('classify: the network has no classifier head');
  return e.tidy(() => softmax(e, net.forward(e, x, { training: false })));
}

/** Class probabilities of each image of a preprocessed batch [N, S, S, 3], read back: one row per image. */
export async function classify(e: Engine, net: MobileNetV2Net, x: Tensor): Promise<Float32Array[]> {
  const probs = classifyTensor(e, net, x);
  try {
    const [n, k] = probs.shape;
    const all = await probs.read();
    return Array.from({ length: n }, (_, i) => all.subarray(i * k, (i + 1) * k));
  } finally {
    probs.dispose();
  }
}

export interface Prediction {
  /** Model output index. */
  index: number;
  probability: number;
}

/** The k most probable classes, most probable first (ties: lower index first). */
export function topK(probs: ArrayLike<number>, k: number): Prediction[] {
  const kk = Math.max(0, Math.min(Math.floor(k), probs.length));
  const best: Prediction[] = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (best.length === kk && (kk === 0 || p <= best[kk - 1].probability)) continue;
    let j = best.length < kk ? best.length : kk - 1;
    while (j > 0 && best[j - 1].probability < p) j--;
    best.splice(j, 0, { index: i, probability: p });
    if (best.length > kk) best.pop();
  }
  return best;
}
