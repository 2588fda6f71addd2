// The ONNX model zoo's torchvision-derived int8 MobileNetV2 (QLinear ops, dequantized to float by
// importOnnx) through MobileNetV2Net with symmetric padding and torchvision mean/std preprocessing:
// cat.bmp must be an Egyptian cat and the 125-image ImageNet sample must reach top-1 ≥ 70 %, top-5 ≥ 88 %.
import { describe, it, beforeAll, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildClassifier, classifierInfo, classify, importOnnx, parseKerasClassIndex, prepareImages, topK, type ClassifierInfo, type Engine, type MobileNetV2Net } from '@mnv2/core';
import { decodeImage } from '../../packages/cli/src/data/decode.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { ONNX_INT8, WEIGHTS_DIR } from '../io/files.js';

const DATASETS = fileURLToPath(new URL('../../../shared/datasets/', import.meta.url));
const CORAL = `${DATASETS}coral_test_images/`;
const SAMPLE = `${DATASETS}imagenet_sample/`;
const LABELS_KERAS = `${WEIGHTS_DIR}labels/imagenet_class_index.json`;
const BATCH = 16;

const sample = readFileSync(`${SAMPLE}INDEX.tsv`, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [cls, synset, file] = l.split('\t');
    return { cls: Number(cls), synset, file };
  });

describe(`${GPU} ONNX int8 MobileNetV2 (torchvision, dequantized) on ImageNet images`, () => {
  let e: Engine;
  let net: MobileNetV2Net;
  let info: ClassifierInfo;
  const names = parseKerasClassIndex(readFileSync(LABELS_KERAS), LABELS_KERAS).names;
  beforeAll(async () => {
    e = await gpuEngine();
    const { weights, info: o } = importOnnx(readFileSync(ONNX_INT8), ONNX_INT8);
    info = classifierInfo(weights, { source: ONNX_INT8, alpha: o.alpha, classes: o.classes, inputSize: o.inputSize, preprocess: 'torch', padding: 'symmetric', epsilon: o.epsilon });
    net = buildClassifier(e, weights, info);
  });

  it('cat.bmp → Egyptian cat (Keras class 285) top-1', async () => {
    const imgs = await Promise.all(['cat.bmp', 'grace_hopper.bmp'].map((f) => decodeImage(CORAL + f)));
    const x = prepareImages(e, imgs, { size: info.inputSize, preprocess: info.preprocess, crop: 'center' });
    const probs = await classify(e, net, x);
    x.dispose();
    const top = probs.map((p) => topK(p, 5).map((t) => `${names[t.index]} ${(100 * t.probability).toFixed(1)}%`));
    console.log(`[onnx] cat.bmp → ${top[0].join(', ')}\n[onnx] grace_hopper.bmp → ${top[1].join(', ')}`);
    expect(topK(probs[0], 1)[0].index).toBe(285);
    expect(topK(probs[1], 3).map((t) => names[t.index])).toContain('military uniform');
  });

  for (const crop of ['center', 'none'] as const) {
    it(`125-image ImageNet sample (crop ${crop}): top-1 ≥ 70 %, top-5 ≥ 88 %`, async () => {
      let top1 = 0;
      let top5 = 0;
      for (let i = 0; i < sample.length; i += BATCH) {
        const batch = sample.slice(i, i + BATCH);
        const imgs = await Promise.all(batch.map((s) => decodeImage(SAMPLE + s.file)));
        const x = prepareImages(e, imgs, { size: info.inputSize, preprocess: info.preprocess, crop });
        const probs = await classify(e, net, x);
        x.dispose();
        probs.forEach((p, j) => {
          const best = topK(p, 5).map((t) => t.index);
          if (best[0] === batch[j].cls) top1++;
          if (best.includes(batch[j].cls)) top5++;
        });
      }
      console.log(`[onnx] int8 ONNX, crop ${crop}: top-1 ${top1}/125 = ${((100 * top1) / 125).toFixed(1)} %, top-5 ${top5}/125 = ${((100 * top5) / 125).toFixed(1)} %`);
      expect(top1 / 125).toBeGreaterThanOrEqual(0.7);
      expect(top5 / 125).toBeGreaterThanOrEqual(0.88);
    });
  }
});
