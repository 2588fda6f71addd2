// TFLite MobileNetV2 → Keras-named float weights: the two shared classifiers (uint8 QAT TF-Slim, int8 PTQ
// Keras) and the TF2 one map completely; layouts checked against the float TF-Slim checkpoint (which
// Keras' weights were converted from); synthetic float models check transposes exactly; bad files fail.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  importTflite,
  readTflite,
  importTfSlim,
  parseNpy,
  checkWeights,
  expectedWeights,
  totalValues,
  weightSource,
  TfliteError,
  type WeightMap,
} from '@mnv2/core';
import { readTfSlimFolder, TFLITE_KERAS, TFLITE_QUANT, TFLITE_TF2 } from './files.js';
import { kval, syntheticMobileNetV2 } from './tflite-builder.js';

const slim = importTfSlim(readTfSlimFolder());
const slimLogitsBias = parseNpy(readTfSlimFolder()['Logits_Conv2d_1c_1x1_biases.npy']).data;

/** Smallest per-unit correlation between the tflite folded kernels and the float checkpoint folded with eps 1e-3. */
function minFoldedCorrelation(w: WeightMap): { corr: number; unit: string } {
  let worst = { corr: 1, unit: '' };
  for (const [name, t] of slim.weights) {
    if (!name.endsWith('kernel')) continue;
    const conv = name.slice(0, name.indexOf('/'));
    const bn = conv === 'Conv1' ? 'bn_Conv1' : conv === 'Conv_1' ? 'Conv_1_bn' : `${conv}_BN`;
    const g = slim.weights.get(`${bn}/gamma`)!.data;
    const v = slim.weights.get(`${bn}/moving_variance`)!.data;
    const q = w.get(name)!.data;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < t.data.length; i++) {
      const c = i % g.length;
      const f = (t.data[i] * g[c]) / Math.sqrt(v[c] + 1e-3);
      sxy += f * q[i];
      sxx += f * f;
      syy += q[i] * q[i];
    }
    const corr = sxy / Math.sqrt(sxx * syy);
    if (corr < worst.corr) worst = { corr, unit: conv };
  }
  return worst;
}

function expectSane(w: WeightMap, eps = 1e-3, bound = 100) {
  for (const [name, t] of w) {
    expect(t.data.every(Number.isFinite), name).toBe(true);
    const maxAbs = t.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbs, name).toBeLessThan(bound);
    if (name.endsWith('/gamma')) expect(t.data.every((x) => x === 1), name).toBe(true);
    if (name.endsWith('/moving_mean')) expect(t.data.every((x) => x === 0), name).toBe(true);
    // The unit's folded scale gamma / sqrt(var + eps) is exactly 1 in f32.
    if (name.endsWith('/moving_variance')) expect(t.data.every((x) => Math.fround(1 / Math.sqrt(Math.fround(x + Math.fround(eps)))) === 1), name).toBe(true);
  }
}

describe('TFLite import', () => {
  it('TF-Slim uint8 QAT model: complete 1001-class map, uint8 per-tensor dequantisation', () => {
    const bytes = readFileSync(TFLITE_QUANT);
    const { weights, info } = importTflite(bytes, 'mobilenet_v2_1.0_224_quant.tflite');
    expect(info).toMatchObject({ alpha: 1, inputSize: 224, classes: 1001, background: true, inputShape: [1, 224, 224, 3], warnings: [] });
    expect(info.inputQuantization).toEqual({ type: 'UINT8', scale: 0.0078125, zeroPoint: 128 });
    expect(info.inputRange).toEqual([-1, 0.9921875]);
    expect(info.preprocessing).toMatch(/x\/127\.5 − 1/);
    expect(info.opCounts).toMatchObject({ CONV_2D: 36, DEPTHWISE_CONV_2D: 17, ADD: 10, AVERAGE_POOL_2D: 1 });
    expect(info.units.length).toBe(53);
    expect(info.units.at(-1)).toMatchObject({ keras: 'predictions', opcode: 'CONV_2D' });
    expect(checkWeights(weights, expectedWeights(1.0, 224, true, 1001))).toEqual({ missing: [], unexpected: [], mismatched: [] });
    expect(totalValues(weights)).toBe(3_538_984 + 1280 + 1);
    expectSane(weights);

    // Conv1 kernel HWIO[h,w,i,o] = scale · (q[o,h,w,i] − zero_point) of the file's OHWI tensor.
    const sg = readTflite(bytes).subgraphs[0];
    const wt = sg.tensors[sg.operators[0].inputs[1]];
    const raw = readTflite(bytes).buffers[wt.buffer];
    const { scale, zeroPoint } = wt.quantization!;
    const k = weights.get('Conv1/kernel')!;
    expect(k.shape).toEqual([3, 3, 3, 32]);
    for (const [o, h, w, i] of [[0, 0, 0, 0], [31, 2, 1, 2], [7, 1, 2, 0]]) {
      expect(k.data[((h * 3 + w) * 3 + i) * 32 + o]).toBeCloseTo(scale[0] * (raw[((o * 3 + h) * 3 + w) * 3 + i] - zeroPoint[0]), 6);
    }
    // Fine-tuned with fake quantisation, so close to but not equal to the float checkpoint.
    expect(minFoldedCorrelation(weights).corr).toBeGreaterThan(0.95);
    let d = 0;
    const b = weights.get('predictions/bias')!.data;
    for (let c = 0; c < 1001; c++) d = Math.max(d, Math.abs(b[c] - slimLogitsBias[c]));
    expect(d).toBeLessThan(0.1);
  });

  it('Keras int8 PTQ model: complete 1000-class map, per-channel int8; matches the float checkpoint folded', () => {
    const { weights, info } = importTflite(readFileSync(TFLITE_KERAS), 'keras.tflite');
    expect(info).toMatchObject({ alpha: 1, inputSize: 224, classes: 1000, background: false, warnings: [] });
    expect(info.inputQuantization?.zeroPoint).toBe(127);
    expect(info.opCounts).toMatchObject({ CONV_2D: 35, DEPTHWISE_CONV_2D: 17, PAD: 4, MEAN: 1, FULLY_CONNECTED: 1 });
    expect(info.units.find((u) => u.keras === 'block_3_depthwise')!.tensor).toMatch(/block_3_depthwise/);
    expect(info.units.at(-1)).toMatchObject({ keras: 'predictions', opcode: 'FULLY_CONNECTED' });
    expect(checkWeights(weights, expectedWeights(1.0, 224, true, 1000))).toEqual({ missing: [], unexpected: [], mismatched: [] });
    expect(totalValues(weights)).toBe(3_538_984);
    expectSane(weights);
    // Keras' weights were converted from the TF-Slim checkpoint: every folded kernel lines up.
    const c = minFoldedCorrelation(weights);
    expect(c.corr, c.unit).toBeGreaterThan(0.999);
    const bn = weights.get('block_5_expand_BN/beta')!.data;
    const g = slim.weights.get('block_5_expand_BN/gamma')!.data;
    const v = slim.weights.get('block_5_expand_BN/moving_variance')!.data;
    const m = slim.weights.get('block_5_expand_BN/moving_mean')!.data;
    const beta = slim.weights.get('block_5_expand_BN/beta')!.data;
    for (let ch = 0; ch < g.length; ch++) expect(Math.abs(bn[ch] - (beta[ch] - (m[ch] * g[ch]) / Math.sqrt(v[ch] + 1e-3)))).toBeLessThan(0.02);
    // Keras class k = TF-Slim class k+1.
    const b = weights.get('predictions/bias')!.data;
    let d = 0;
    for (let k = 0; k < 1000; k++) d = Math.max(d, Math.abs(b[k] - slimLogitsBias[k + 1]));
    expect(d).toBeLessThan(5e-3);
    // Straight into the network adapter, strictly.
    const src = weightSource(weights, { strict: true, alpha: 1.0, includeTop: true, classes: 1000 });
    expect(src('block_16_project/kernel', [960, 320])!.length).toBe(307_200);
  });

  it('TF2 Model Garden int8 model maps too; dropBackground gives Keras order', () => {
    const bytes = readFileSync(TFLITE_TF2);
    const { weights, info } = importTflite(bytes, 'tf2.tflite', { dropBackground: true });
    expect(info).toMatchObject({ classes: 1000, background: false, warnings: [] });
    expect(checkWeights(weights, expectedWeights(1.0, 224, true, 1000)).mismatched).toEqual([]);
    const full = importTflite(bytes, 'tf2.tflite').weights.get('predictions/kernel')!.data;
    const dropped = weights.get('predictions/kernel')!.data;
    expect(dropped[5 * 1000 + 7]).toBe(full[5 * 1001 + 8]);
    expect(minFoldedCorrelation(weights).corr).toBeGreaterThan(0.999);
  });

  it('synthetic float model (alpha 0.35, PAD/VALID, FLOAT16 + DEQUANTIZE, FC head): exact transposes', () => {
    const { weights, info } = importTflite(syntheticMobileNetV2(0.35, 10), 'synthetic.tflite', { epsilon: 1e-5 });
    expect(info).toMatchObject({ alpha: 0.35, classes: 10, inputSize: 96, epsilon: 1e-5, warnings: [] });
    expect(checkWeights(weights, expectedWeights(0.35, 96, true, 10))).toEqual({ missing: [], unexpected: [], mismatched: [] });
    expectSane(weights, 1e-5, Infinity);
    const hwio = (name: string, h: number, w: number, i: number, o: number) => {
      const t = weights.get(name)!;
      const [, kw, ci, co] = t.shape;
      return t.data[((h * kw + w) * ci + i) * co + o];
    };
    expect(hwio('Conv1/kernel', 2, 1, 2, 15)).toBe(kval(15, 2, 1, 2)); // via FLOAT16 + DEQUANTIZE
    expect(hwio('block_4_expand/kernel', 0, 0, 13, 90)).toBe(kval(90, 0, 0, 13));
    expect(hwio('Conv_1/kernel', 0, 0, 111, 1279)).toBe(kval(1279, 0, 0, 111));
    expect(hwio('block_13_depthwise/depthwise_kernel', 1, 2, 150, 0)).toBe(kval(150, 1, 2, 0));
    expect(Array.from(weights.get('block_2_project_BN/beta')!.data.slice(0, 3))).toEqual([0, 1, 2]);
    expect(weights.get('predictions/kernel')!.data[37 * 10 + 3]).toBe(3 * 10000 + 37);
    expect(weights.get('predictions/bias')!.data[4]).toBe(-4);
  });

  it('graphs that are not MobileNetV2 fail naming the operator', () => {
    const wrongStride = syntheticMobileNetV2(0.35, 10, (ops) => {
      const dw = ops.filter((o) => o.code === 4)[5];
      dw.options![1][1][2] = 2; // stride_w only
    });
    expect(() => importTflite(wrongStride, 'odd.tflite')).toThrow(/odd\.tflite: not a Keras-compatible MobileNetV2 \(closest: alpha=0\.35\): operator \d+ \(DEPTHWISE_CONV_2D\) "block_5_depthwise\/kernel" \[1,3,3,96\] should be block_5_depthwise: stride 1x2, expected 1/);
    const noHead = syntheticMobileNetV2(0.35, 10, (ops) => void ops.splice(ops.findIndex((o) => o.code === 9), 1));
    const r = importTflite(noHead, 'base.tflite');
    expect(r.info.classes).toBeUndefined();
    expect(r.weights.size).toBe(260);
    const short = syntheticMobileNetV2(0.35, 10, (ops) => void ops.splice(20));
    expect(() => importTflite(short, 'short.tflite')).toThrow(/short\.tflite: .*conv\/dense operators, MobileNetV2 needs at least 52/);
  });

  it('a truncated or foreign file gives an error naming the file', () => {
    const bytes = readFileSync(TFLITE_KERAS);
    for (const n of [3, 64, 4096, bytes.length >> 1, bytes.length - 64]) {
      expect(() => importTflite(bytes.subarray(0, n), 'keras_mobilenetv2.tflite'), `cut at ${n}`).toThrow(TfliteError);
      expect(() => importTflite(bytes.subarray(0, n), 'keras_mobilenetv2.tflite'), `cut at ${n}`).toThrow(/^keras_mobilenetv2\.tflite: /);
    }
    expect(() => importTflite(bytes.subarray(0, bytes.length >> 1), 'k.tflite')).toThrow(/k\.tflite: truncated or corrupt flatbuffer \(.* past the end of the \d+-byte file\)/);
    const npy = readTfSlimFolder()['Conv_weights.npy'];
    expect(() => importTflite(npy, 'Conv_weights.npy')).toThrow(/Conv_weights\.npy: not a TFLite model \(file identifier/);
  });
});
