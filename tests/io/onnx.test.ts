// ONNX import (CPU): the model zoo's torchvision-derived QLinear int8 MobileNetV2 maps completely onto
// Keras-named float weights, with dequantisation and OIHW → HWIO layouts checked against the raw file.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { checkIsClean, checkWeights, expectedWeights, formatCheck, importOnnx, onnxTensorValues, OnnxError, readOnnx } from '@mnv2/core';
import { ONNX_INT8, readTfSlimFolder } from './files.js';

const bytes = readFileSync(ONNX_INT8);

describe('ONNX import (mobilenetv2-12-int8.onnx)', () => {
  const r = importOnnx(bytes, ONNX_INT8);

  it('parses the graph: QLinear int8 ops', () => {
    const m = readOnnx(bytes, ONNX_INT8);
    expect(m.graph.inputs).toEqual(['input']);
    expect(m.graph.outputs).toEqual(['output']);
    expect(r.info.opCounts.QLinearConv).toBe(52);
    expect(r.info.opCounts.QLinearAdd).toBe(11); // 10 residuals + the classifier bias
    expect(r.info.opCounts.QLinearMatMul).toBe(1);
  });

  it('maps completely with Keras shapes (alpha 1.0, 1000 classes, torch preprocessing, symmetric padding)', () => {
    const check = checkWeights(r.weights, expectedWeights(1.0, 224, true));
    expect(formatCheck(check)).toBe('');
    expect(checkIsClean(check)).toBe(true);
    expect(r.info.alpha).toBe(1);
    expect(r.info.classes).toBe(1000);
    expect(r.info.preprocess).toBe('torch');
    expect(r.info.padding).toBe('symmetric');
    expect(r.info.warnings).toEqual([]);
    expect(r.info.units.length).toBe(53);
    expect(r.info.units[0].keras).toBe('Conv1');
    expect(r.info.units[52]).toMatchObject({ keras: 'predictions', opType: 'QLinearMatMul' });
    expect(r.weights.get('block_16_project/kernel')!.shape).toEqual([1, 1, 960, 320]);
    expect(r.weights.get('block_3_depthwise/depthwise_kernel')!.shape).toEqual([3, 3, 144, 1]);
    for (const [k, t] of r.weights) expect(t.data.every(Number.isFinite), k).toBe(true);
    const eps = r.info.epsilon;
    expect(r.weights.get('bn_Conv1/gamma')!.data.every((v) => v === 1)).toBe(true);
    expect(r.weights.get('bn_Conv1/moving_mean')!.data.every((v) => v === 0)).toBe(true);
    expect(r.weights.get('bn_Conv1/moving_variance')!.data[0]).toBeCloseTo(1 - eps, 7);
  });

  it('dequantizes per output channel and transposes OIHW → HWIO, depthwise → [3,3,C,1], MatMul [in,out]', () => {
    const m = readOnnx(bytes, ONNX_INT8);
    const init = (n: string) => Array.from(onnxTensorValues(m.graph.initializers.get(n)!));
    const stem = m.graph.nodes.find((n) => n.opType === 'QLinearConv')!;
    const [wq, ws, wz, bq] = [init(stem.inputs[3]), init(stem.inputs[4]), init(stem.inputs[5]), init(stem.inputs[8])];
    const xs = init(stem.inputs[1])[0];
    const k = r.weights.get('Conv1/kernel')!; // [3,3,3,32] from [32,3,3,3]
    for (const [o, c, y, x] of [[0, 0, 0, 0], [5, 2, 1, 2], [31, 1, 2, 0]]) {
      expect(k.data[((y * 3 + x) * 3 + c) * 32 + o]).toBeCloseTo((wq[((o * 3 + c) * 3 + y) * 3 + x] - wz[o]) * ws[o], 6);
    }
    const beta = r.weights.get('bn_Conv1/beta')!.data;
    expect(beta[7]).toBeCloseTo(bq[7] * xs * ws[7], 6);
    // first depthwise: [32,1,3,3] → [3,3,32,1]
    const dw = m.graph.nodes.filter((n) => n.opType === 'QLinearConv')[1];
    const [dq, ds, dz] = [init(dw.inputs[3]), init(dw.inputs[4]), init(dw.inputs[5])];
    const d = r.weights.get('expanded_conv_depthwise/depthwise_kernel')!;
    expect(d.data[(2 * 3 + 1) * 32 + 9]).toBeCloseTo((dq[9 * 9 + 2 * 3 + 1] - (dz.length > 1 ? dz[9] : dz[0])) * (ds.length > 1 ? ds[9] : ds[0]), 6);
    // classifier: the ONNX MatMul weight is already [1280,1000]
    const p = r.weights.get('predictions/kernel')!;
    expect(p.shape).toEqual([1280, 1000]);
    const mm = m.graph.nodes.find((n) => n.opType === 'QLinearMatMul')!;
    const [pq, ps, pz] = [init(mm.inputs[3]), init(mm.inputs[4]), init(mm.inputs[5])];
    const o = 285;
    const i = 640;
    expect(p.data[i * 1000 + o]).toBeCloseTo((pq[i * 1000 + o] - (pz.length > 1 ? pz[o] : pz[0])) * (ps.length > 1 ? ps[o] : ps[0]), 6);
  });

  it('a truncated or foreign file gives an error naming the file', () => {
    for (const n of [0, 3, 64, 4096, bytes.length >> 1, bytes.length - 1000, bytes.length - 7]) {
      expect(() => importOnnx(bytes.subarray(0, n), 'mnv2-int8.onnx'), `cut at ${n}`).toThrow(OnnxError);
      expect(() => importOnnx(bytes.subarray(0, n), 'mnv2-int8.onnx'), `cut at ${n}`).toThrow(/^mnv2-int8\.onnx: /);
    }
    expect(() => importOnnx(bytes.subarray(0, bytes.length >> 1), 'm.onnx')).toThrow(/m\.onnx: corrupt or truncated ONNX protobuf/);
    const npy = readTfSlimFolder()['Conv_weights.npy'];
    expect(() => importOnnx(npy, 'Conv_weights.npy')).toThrow(/^Conv_weights\.npy: /);
  });
});
