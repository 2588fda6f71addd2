// One Keras-named unit sequence (`units(alpha)` in nn/architecture.ts) and the five views built from
// it: the network's ConvBn units, the Keras layer list, the ONNX writer's graph, and what the ONNX and
// TFLite importers map. For every Keras alpha they must agree name for name.
import { describe, it, beforeAll, expect } from 'vitest';
import { MobileNetV2Net, encodeOnnxModel, importOnnx, importTflite, kerasLayers, mobileNetV2Onnx, units, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { syntheticMobileNetV2 } from '../io/tflite-builder.js';

const ALPHAS = [0.35, 0.75, 1.0, 1.4];
const SIZE = 32;

/** conv, BN and ReLU names in order (no ReLU for the linear projection). */
const expected = (alpha: number) => units(alpha).flatMap((u) => [u.conv, u.bn, ...(u.relu ? [u.relu] : [])]);
const convNames = (alpha: number) => units(alpha).map((u) => u.conv);

/** Zero weights of the right size for every Keras weight name (the writer checks sizes). */
function zeroWeights(alpha: number, classes: number): (name: string) => Float32Array {
  const sizes = new Map<string, number>();
  for (const l of kerasLayers({ alpha, inputSize: SIZE, includeTop: true, classes })) for (const w of l.weights) sizes.set(w.name, w.shape.reduce((a, b) => a * b, 1));
  return (name) => new Float32Array(sizes.get(name) ?? 0).fill(name.endsWith('variance') ? 1 : 0.01);
}

describe('one Keras-named unit sequence', () => {
  it('has the Keras shape: Conv1, 17 blocks of [expand,] depthwise, project (linear), Conv_1', () => {
    for (const alpha of ALPHAS) {
      const seq = units(alpha);
      expect(seq.length).toBe(52);
      expect([seq[0].conv, seq[0].bn, seq[0].relu]).toEqual(['Conv1', 'bn_Conv1', 'Conv1_relu']);
      expect([seq[51].conv, seq[51].bn, seq[51].relu]).toEqual(['Conv_1', 'Conv_1_bn', 'out_relu']);
      expect(seq.filter((u) => u.activation === 'linear').map((u) => u.conv)).toEqual(Array.from({ length: 17 }, (_, i) => `${i === 0 ? 'expanded_conv' : `block_${i}`}_project`));
      for (let i = 1; i < seq.length; i++) expect(seq[i].inC, seq[i].conv).toBe(seq[i - 1].outC);
    }
  });

  for (const alpha of ALPHAS) {
    it(`alpha ${alpha}: the Keras layer list, the ONNX writer and both importers agree name for name`, () => {
      const layers = kerasLayers({ alpha, inputSize: SIZE, includeTop: false });
      const kerasNames = layers.filter((l) => ['Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'ReLU'].includes(l.type)).map((l) => l.name);
      expect(kerasNames).toEqual(expected(alpha));

      const graph = mobileNetV2Onnx({ alpha, inputSize: SIZE, batch: 1, weight: zeroWeights(alpha, 10), head: { classes: 10 } });
      const onnxNames = graph.nodes.filter((n) => ['Conv', 'BatchNormalization', 'Clip'].includes(n.opType)).map((n) => n.name);
      expect(onnxNames).toEqual(expected(alpha));

      const folded = mobileNetV2Onnx({ alpha, inputSize: SIZE, batch: 1, weight: zeroWeights(alpha, 10), head: { classes: 10 }, foldBatchNorm: true });
      const fromOnnx = importOnnx(encodeOnnxModel(folded), `writer-${alpha}.onnx`);
      expect(fromOnnx.info.alpha).toBe(alpha);
      expect(fromOnnx.info.units.map((u) => u.keras)).toEqual([...convNames(alpha), 'predictions']);

      const fromTflite = importTflite(syntheticMobileNetV2(alpha, 10), `synthetic-${alpha}.tflite`);
      expect(fromTflite.info.alpha).toBe(alpha);
      expect(fromTflite.info.units.map((u) => u.keras)).toEqual([...convNames(alpha), 'predictions']);
    });
  }
});

describe(`${GPU} one Keras-named unit sequence: the network`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  for (const alpha of ALPHAS) {
    it(`alpha ${alpha}: MobileNetV2Net's units carry the sequence's names, channels and strides`, () => {
      const net = new MobileNetV2Net(e, { alpha, inputSize: SIZE });
      try {
        const got = net.convUnits().map((u) => u.spec);
        expect(got.flatMap((s) => [s.convName, s.bnName, ...(s.reluName ? [s.reluName] : [])])).toEqual(expected(alpha));
        expect(got.map((s) => [s.kind, s.inChannels, s.outChannels, s.stride])).toEqual(units(alpha).map((u) => [u.kind, u.inC, u.outC, u.stride]));
        expect(net.blocks.map((b) => b.units.length)).toEqual(net.arch.blocks.map((b) => (b.expansion === 1 ? 2 : 3)));
      } finally {
        net.dispose();
      }
    });
  }
});
