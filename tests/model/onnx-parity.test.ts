// Cross-check of the whole inference path against an independent implementation: a small MobileNetV2
// (alpha 0.35, 64x64, random weights, BatchNorm with non-trivial moving statistics, 10 classes) is
// exported with our ONNX writer (packages/core/src/export/onnx-writer.ts) and run by ONNX Runtime's CPU
// provider; its logits must equal ours (fused conv+BN+ReLU6 kernels on the GPU). Exported both with
// BatchNormalization nodes and with BN folded into the convs, from NHWC (Transpose node) and NCHW input.
// Also checks the protobuf encoding of attribute kinds the network does not use (float, negative int).
import { describe, it, beforeAll, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { MobileNetV2Net, attr, encodeOnnxModel, mobileNetV2Onnx, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose, maxAbs } from '../helpers/allclose.js';

async function runOrt(model: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, dims) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('ONNX writer (host, ONNX Runtime CPU)', () => {
  it('encodes float, int, negative int and ints attributes that ONNX Runtime reads back', async () => {
    // y = Flatten(axis=-1)(0.5 * A · Bᵀ + C), A [2,3], B [4,3]
    const a = f32(randArray(6, 1));
    const b = f32(randArray(12, 2));
    const c = f32(randArray(4, 3));
    const model = encodeOnnxModel({
      name: 'gemm',
      nodes: [
        { opType: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['g'], attributes: { alpha: attr.float(0.5), transB: attr.int(1) } },
        { opType: 'Flatten', inputs: ['g'], outputs: ['y'], attributes: { axis: attr.int(-1) } },
      ],
      initializers: [
        { name: 'b', dims: [4, 3], data: b },
        { name: 'c', dims: [4], data: c },
      ],
      inputs: [{ name: 'a', dims: ['N', 3] }],
      outputs: [{ name: 'y', dims: ['N', 4] }],
    });
    const y = await runOrt(model, a, [2, 3]);
    const want = new Float64Array(8);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += a[i * 3 + k] * b[j * 3 + k];
      want[i * 4 + j] = 0.5 * s + c[j];
    }
    expectClose(y, want, { rtol: 1e-5, atol: 1e-6, what: 'Gemm' });
  });
});

describe(`${GPU} ONNX export parity (MobileNetV2 0.35, 64x64, ONNX Runtime CPU)`, () => {
  const SIZE = 64;
  const BATCH = 2;
  const CLASSES = 10;
  let e: Engine;
  let ours: Float32Array;
  let input: Float32Array;
  const weights = new Map<string, Float32Array>();

  beforeAll(async () => {
    e = await gpuEngine();
    let seed = 100;
    const bn = (name: string, shape: number[]): Float32Array | undefined => {
      const n = shape.reduce((x, y) => x * y, 1);
      if (name.endsWith('/gamma')) return f32(randArray(n, seed++, 0.5, 1.5));
      if (name.endsWith('/beta')) return f32(randArray(n, seed++, -0.3, 0.3));
      if (name.endsWith('/moving_mean')) return f32(randArray(n, seed++, -0.3, 0.3));
      if (name.endsWith('/moving_variance')) return f32(randArray(n, seed++, 0.5, 2));
      return undefined; // kernels: Glorot
    };
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: SIZE, head: { classes: CLASSES, pooling: 'avg', dropout: 0.2 }, weights: bn, seed: 5 });
    const bias = net.head!.params().find((p) => p.name === 'predictions/bias')!;
    e.write(bias.value, f32(randArray(CLASSES, 7, -0.5, 0.5)));
    for (const p of net.params()) weights.set(p.name, await p.value.read());
    input = f32(randArray(BATCH * SIZE * SIZE * 3, 9));
    const x = e.upload(input, [BATCH, SIZE, SIZE, 3]);
    const y = e.tidy(() => net.forward(e, x, { training: false }));
    ours = await y.read();
    y.dispose();
    x.dispose();
    expect(ours.length).toBe(BATCH * CLASSES);
    expect(maxAbs(ours)).toBeGreaterThan(1e-3); // a degenerate network would make the check vacuous
  });

  const weight = (name: string) => weights.get(name)!;

  for (const foldBatchNorm of [false, true]) {
    it(`logits equal ours (NHWC input, ${foldBatchNorm ? 'BN folded into Conv' : 'BatchNormalization nodes'})`, async () => {
      const graph = mobileNetV2Onnx({ alpha: 0.35, inputSize: SIZE, batch: 'N', weight, head: { classes: CLASSES }, foldBatchNorm, inputLayout: 'nhwc' });
      const theirs = await runOrt(encodeOnnxModel(graph), input, [BATCH, SIZE, SIZE, 3]);
      expectClose(theirs, ours, { rtol: 1e-3, atol: 1e-3 * maxAbs(ours), what: 'logits' });
    });
  }

  it('logits equal ours (NCHW input, softmax head)', async () => {
    const graph = mobileNetV2Onnx({ alpha: 0.35, inputSize: SIZE, batch: BATCH, weight, head: { classes: CLASSES, softmax: true } });
    const nchw = new Float32Array(input.length);
    for (let n = 0; n < BATCH; n++)
      for (let p = 0; p < SIZE * SIZE; p++) for (let c = 0; c < 3; c++) nchw[(n * 3 + c) * SIZE * SIZE + p] = input[(n * SIZE * SIZE + p) * 3 + c];
    const probs = await runOrt(encodeOnnxModel(graph), nchw, [BATCH, 3, SIZE, SIZE]);
    const want = new Float64Array(ours.length);
    for (let n = 0; n < BATCH; n++) {
      const row = ours.subarray(n * CLASSES, (n + 1) * CLASSES);
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      for (let k = 0; k < CLASSES; k++) want[n * CLASSES + k] = Math.exp(row[k] - m) / z;
    }
    expectClose(probs, want, { rtol: 1e-3, atol: 1e-5, what: 'probabilities' });
  });
});
