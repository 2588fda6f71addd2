// ImageNet sanity check of the whole inference path with real pretrained weights: the shared TFLite
// classifiers (dequantized to float) → MobileNetV2Net (fused conv+BN+ReLU6 kernels) → softmax. The
// Coral test images must get their known labels, and the 125-image ImageNet sample (one image per 8th
// class) must reach the targets: top-1 ≥ 70 %, top-5 ≥ 88 %. Images are resized like Keras
// (whole image, bilinear, no antialias) and scaled to [-1, 1].
import { describe, it, beforeAll, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildClassifier,
  classifierInfo,
  classify,
  cropFor,
  importTflite,
  labelsForClasses,
  parseKerasClassIndex,
  parseLabelLines,
  parseLabels,
  prepareImages,
  topK,
  type ClassLabels,
  type Engine,
  type MobileNetV2Net,
  type ClassifierInfo,
} from '@mnv2/core';
import { decodeImage } from '../../packages/cli/src/data/decode.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { TFLITE_KERAS, TFLITE_QUANT, WEIGHTS_DIR } from '../io/files.js';

const DATASETS = fileURLToPath(new URL('../../../shared/datasets/', import.meta.url));
const CORAL = `${DATASETS}coral_test_images/`;
const SAMPLE = `${DATASETS}imagenet_sample/`;
const LABELS_1001 = `${WEIGHTS_DIR}labels/imagenet_labels_1001_coral.txt`;
const LABELS_KERAS = `${WEIGHTS_DIR}labels/imagenet_class_index.json`;

describe('ImageNet labels and top-k (host)', () => {
  it('parses the 1001-line TF-Slim list (background first) and Keras class index to the same names', () => {
    const slim = parseLabelLines(readFileSync(LABELS_1001), 'coral.txt');
    const keras = parseKerasClassIndex(readFileSync(LABELS_KERAS), 'index.json');
    expect(slim.names.length).toBe(1001);
    expect(slim.background).toBe(true);
    expect(slim.names[0]).toBe('background');
    expect(keras.names.length).toBe(1000);
    expect(keras.synsets?.[285]).toBe('n02124075');
    expect(keras.names[285]).toBe('Egyptian cat'); // "Egyptian_cat" in the file
    expect(slim.names[286]).toBe('Egyptian cat');
    expect(keras.names[652]).toBe('military uniform');
    expect(slim.names[653]).toBe('military uniform');
    expect(parseLabels(readFileSync(LABELS_KERAS), 'x').names[0]).toBe('tench');
    // Fitting a list to a head of the other size.
    expect(labelsForClasses(1000, slim).names[285]).toBe('Egyptian cat');
    expect(labelsForClasses(1001, keras).names[286]).toBe('Egyptian cat');
    expect(labelsForClasses(10, keras).names[3]).toBe('class 3');
    expect(parseLabelLines(new TextEncoder().encode('0 background\n1 cat\n2 dog\n')).names).toEqual(['background', 'cat', 'dog']);
    expect(() => parseKerasClassIndex(new TextEncoder().encode('{"0": "tench"}'), 'bad.json')).toThrow(/bad\.json/);
  });

  it('topK orders by probability (ties: lower index first) and clamps k', () => {
    const p = [0.1, 0.4, 0.05, 0.4, 0.05];
    expect(topK(p, 3)).toEqual([
      { index: 1, probability: 0.4 },
      { index: 3, probability: 0.4 },
      { index: 0, probability: 0.1 },
    ]);
    expect(topK(p, 10).map((x) => x.index)).toEqual([1, 3, 0, 2, 4]);
    expect(topK(p, 0)).toEqual([]);
  });

  it('crop boxes: whole image, centred square, TF central_crop fraction', () => {
    expect(cropFor(341, 512, 224, 'none')).toEqual({ top: 0, left: 0, height: 341, width: 512 });
    expect(cropFor(341, 512, 224, 'center')).toEqual({ top: 0, left: 85, height: 341, width: 341 });
    // tf.image.central_crop(0.875) of 341x512: start int((341 − 298.375)/2) = 21, int((512 − 448)/2) = 32.
    expect(cropFor(341, 512, 224, 0.875)).toEqual({ top: 21, left: 32, height: 299, width: 448 });
  });
});

interface Loaded {
  net: MobileNetV2Net;
  info: ClassifierInfo;
  labels: ClassLabels;
}

function loadTflite(e: Engine, file: string): Loaded {
  const { weights, info: t } = importTflite(readFileSync(file), file);
  const info = classifierInfo(weights, { source: file, alpha: t.alpha, classes: t.classes, background: t.background, inputSize: t.inputSize, epsilon: t.epsilon });
  const labels = labelsForClasses(info.classes, info.classes === 1001 ? parseLabelLines(readFileSync(LABELS_1001), LABELS_1001) : parseKerasClassIndex(readFileSync(LABELS_KERAS), LABELS_KERAS));
  return { net: buildClassifier(e, weights, info), info, labels };
}

/** Keras class index (0..999) of a model output index. */
const kerasIndex = (info: ClassifierInfo, i: number) => (info.background ? i - 1 : i);

const sample = readFileSync(`${SAMPLE}INDEX.tsv`, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [cls, synset, file] = l.split('\t');
    return { cls: Number(cls), synset, file };
  });

const BATCH = 16;

for (const [name, file] of [
  ['Keras int8 PTQ', TFLITE_KERAS],
  ['TF-Slim uint8 QAT', TFLITE_QUANT],
] as const) {
  describe(`${GPU} pretrained MobileNetV2 1.0/224 (${name} TFLite, dequantized) on ImageNet images`, () => {
    let e: Engine;
    let m: Loaded;
    beforeAll(async () => {
      e = await gpuEngine();
      m = loadTflite(e, file);
    });

    it('Coral test images: cat.bmp → Egyptian cat, grace_hopper.bmp → military uniform', async () => {
      const imgs = await Promise.all(['cat.bmp', 'grace_hopper.bmp'].map((f) => decodeImage(CORAL + f)));
      const x = prepareImages(e, imgs, { size: m.info.inputSize, preprocess: m.info.preprocess });
      const probs = await classify(e, m.net, x);
      x.dispose();
      const top = probs.map((p) => topK(p, 5).map((t) => `${m.labels.names[t.index]} ${(100 * t.probability).toFixed(1)}%`));
      console.log(`[imagenet] ${name}: cat.bmp → ${top[0].join(', ')}\n[imagenet] ${name}: grace_hopper.bmp → ${top[1].join(', ')}`);
      expect(m.labels.names[topK(probs[0], 1)[0].index]).toBe('Egyptian cat');
      expect(m.labels.names[topK(probs[1], 1)[0].index]).toBe('military uniform');
      for (const p of probs) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    });

    it(`125-image ImageNet sample: top-1 ≥ 70 %, top-5 ≥ 88 % (batches of ${BATCH})`, async () => {
      expect(sample.length).toBe(125);
      let top1 = 0;
      let top5 = 0;
      const misses: string[] = [];
      const t0 = performance.now();
      let tGpu = 0;
      let next = Promise.all(sample.slice(0, BATCH).map((s) => decodeImage(SAMPLE + s.file)));
      for (let i = 0; i < sample.length; i += BATCH) {
        const imgs = await next;
        if (i + BATCH < sample.length) next = Promise.all(sample.slice(i + BATCH, i + 2 * BATCH).map((s) => decodeImage(SAMPLE + s.file)));
        const tg = performance.now();
        const x = prepareImages(e, imgs, { size: m.info.inputSize, preprocess: m.info.preprocess });
        const probs = await classify(e, m.net, x);
        x.dispose();
        tGpu += performance.now() - tg;
        probs.forEach((p, j) => {
          const s = sample[i + j];
          const best = topK(p, 5).map((t) => kerasIndex(m.info, t.index));
          if (best[0] === s.cls) top1++;
          else misses.push(`${s.file} → ${m.labels.names[topK(p, 1)[0].index]}`);
          if (best.includes(s.cls)) top5++;
        });
      }
      const s = (performance.now() - t0) / 1000;
      console.log(
        `[imagenet] ${name}: top-1 ${top1}/125 = ${((100 * top1) / 125).toFixed(1)} %, top-5 ${top5}/125 = ${((100 * top5) / 125).toFixed(1)} % ` +
          `in ${s.toFixed(1)} s (GPU resize+forward+read ${(tGpu / 1000).toFixed(1)} s)\n[imagenet] top-1 misses: ${misses.join('; ')}`,
      );
      expect(top1 / 125).toBeGreaterThanOrEqual(0.7);
      expect(top5 / 125).toBeGreaterThanOrEqual(0.88);
    });
  });
}
