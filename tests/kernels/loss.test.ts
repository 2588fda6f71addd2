import { describe, it, beforeAll, expect } from 'vitest';
import {
  softmaxCrossEntropy,
  sigmoidBinaryCrossEntropy,
  accuracy,
  softmax,
  checkClassLabels,
  checkBinaryLabels,
  type Engine,
} from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32, rng } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { softmaxCrossEntropyRef, sigmoidBceRef, accuracyRef, softmaxRef } from '../reference/loss.js';

const intLabels = (n: number, k: number, seed: number) => {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * k));
};

describe('loss references', () => {
  it('softmax cross-entropy gradient matches finite differences of the mean loss', () => {
    const [n, k] = [4, 5];
    const logits = randArray(n * k, 1, -3, 3);
    const labels = intLabels(n, k, 2);
    const ref = softmaxCrossEntropyRef(logits, labels, n, k);
    gradcheck((i) => Float64Array.of(softmaxCrossEntropyRef(i.logits, labels, n, k).loss), { logits }, { logits: ref.dlogits }, Float64Array.of(1));
  });
  it('sigmoid binary cross-entropy gradient matches finite differences of the mean loss', () => {
    const logits = randArray(7, 3, -4, 4);
    const labels = Float64Array.from([0, 1, 1, 0, 0.25, 1, 0]);
    const ref = sigmoidBceRef(logits, labels);
    gradcheck((i) => Float64Array.of(sigmoidBceRef(i.logits, labels).loss), { logits }, { logits: ref.dlogits }, Float64Array.of(1));
  });
  it('stable BCE equals the textbook form where that is finite', () => {
    const z = Float64Array.of(-3, -0.5, 0, 2);
    const y = [1, 0, 1, 0.5];
    const naive = Array.from(z, (v, i) => {
      const p = 1 / (1 + Math.exp(-v));
      return -(y[i] * Math.log(p) + (1 - y[i]) * Math.log(1 - p));
    });
    expectClose(sigmoidBceRef(z, y).perExample, naive, { rtol: 1e-12, atol: 1e-12 });
  });
});

describe(`${GPU} losses and metrics`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  // Batch 1 and 3, K = 2/3/5/10, N > 64 (two workgroups, strided mean), large logits (stability).
  const CE_CASES: [number, number, number][] = [
    [1, 2, 3],
    [3, 5, 3],
    [8, 3, 8],
    [7, 10, 40],
    [65, 4, 5],
  ];
  for (const [n, k, spread] of CE_CASES) {
    it(`softmax cross-entropy, softmax and accuracy N=${n} K=${k} logits in ±${spread}`, async () => {
      const logits = randArray(n * k, n * 10 + k, -spread, spread);
      const labels = intLabels(n, k, n + k);
      const lt = e.upload(f32(logits), [n, k]);
      const yt = e.upload(labels, [n]);
      const { loss, dlogits } = softmaxCrossEntropy(e, lt, yt);
      const probs = softmax(e, lt);
      const acc = accuracy(e, lt, yt);
      const ref = softmaxCrossEntropyRef(logits, labels, n, k);
      expect(loss.shape).toEqual([1]);
      expectClose(await loss.read(), [ref.loss], { rtol: 1e-5, atol: 1e-6, what: 'loss' });
      expectClose(await dlogits.read(), ref.dlogits, { rtol: 1e-4, atol: 1e-6 / n, what: 'dlogits' });
      expectClose(await probs.read(), softmaxRef(logits, n, k), { rtol: 1e-5, atol: 1e-7, what: 'softmax' });
      expect((await acc.read())[0]).toBe(accuracyRef(logits, labels, n, k));
    });
  }

  it('softmax cross-entropy of extreme logits stays finite', async () => {
    const logits = Float64Array.of(80, -80, 0, -1e4, 1e4, 3);
    const labels = Int32Array.of(1, 0);
    const { loss, dlogits } = softmaxCrossEntropy(e, e.upload(f32(logits), [2, 3]), e.upload(labels, [2]));
    const ref = softmaxCrossEntropyRef(logits, labels, 2, 3);
    expectClose(await loss.read(), [ref.loss], { rtol: 1e-6, what: 'loss' });
    expectClose(await dlogits.read(), ref.dlogits, { rtol: 1e-5, atol: 1e-7, what: 'dlogits' });
  });

  it('an out-of-range class label gives NaN loss and gradient (and never counts as correct)', async () => {
    const logits = randArray(3 * 4, 5);
    const lt = e.upload(f32(logits), [3, 4]);
    for (const bad of [4, -1]) {
      const yt = e.upload(Int32Array.of(0, bad, 2), [3]);
      const { loss, dlogits } = softmaxCrossEntropy(e, lt, yt);
      expect(Number.isNaN((await loss.read())[0])).toBe(true);
      const d = await dlogits.read();
      expect(Array.from(d.slice(4, 8)).every(Number.isNaN)).toBe(true);
      expect(Array.from(d.slice(0, 4)).some(Number.isNaN)).toBe(false);
      expect((await accuracy(e, lt, yt).read())[0]).toBe(accuracyRef(logits, [0, bad, 2], 3, 4));
    }
    expect(() => checkClassLabels([0, 4, 2], 4)).toThrow(/label 1 is 4, but labels must be integers in \[0, 4\)/);
    expect(() => checkClassLabels([0, 1.5], 4)).toThrow(/label 1 is 1.5/);
    expect(() => checkBinaryLabels([0, 1, 2])).toThrow(/label 2 is 2, but binary labels must be in \[0, 1\]/);
    expect(() => checkClassLabels([0, 3], 4)).not.toThrow();
  });

  it('argmax ties pick the first index (like tf.argmax)', async () => {
    const logits = Float64Array.of(1, 1, 0, 0, 2, 2, 3, 3, 3);
    const lt = e.upload(f32(logits), [3, 3]);
    expect((await accuracy(e, lt, e.upload(Int32Array.of(0, 1, 0), [3])).read())[0]).toBe(3);
    expect((await accuracy(e, lt, e.upload(Int32Array.of(1, 2, 2), [3])).read())[0]).toBe(0);
  });

  for (const [n, shape2d] of [[1, true], [5, false], [67, true]] as const) {
    it(`sigmoid binary cross-entropy and binary accuracy N=${n} logits ${shape2d ? '[N,1]' : '[N]'}`, async () => {
      const logits = randArray(n, n + 3, -6, 6);
      logits[0] = n > 1 ? 100 : -100; // saturated: stable form needed
      const r = rng(n);
      const labels = Float64Array.from({ length: n }, (_, i) => (i % 7 === 3 ? 0.3 : r() < 0.5 ? 0 : 1));
      const shape = shape2d ? [n, 1] : [n];
      const lt = e.upload(f32(logits), shape);
      const { loss, dlogits } = sigmoidBinaryCrossEntropy(e, lt, e.upload(f32(labels), [n]));
      const ref = sigmoidBceRef(logits, labels);
      expect(dlogits.shape).toEqual(shape);
      expectClose(await loss.read(), [ref.loss], { rtol: 1e-5, atol: 1e-6, what: 'loss' });
      expectClose(await dlogits.read(), ref.dlogits, { rtol: 1e-4, atol: 1e-7, what: 'dlogits' });
      const hard = labels.map((v) => (v > 0.5 ? 1 : 0));
      const expected = accuracyRef(logits, hard, n, 1);
      expect((await accuracy(e, lt, e.upload(f32(hard), [n])).read())[0]).toBe(expected);
      expect((await accuracy(e, lt, e.upload(Int32Array.from(hard), [n])).read())[0]).toBe(expected);
    });
  }

  it('rejects wrong label types and shapes', () => {
    const lt = e.upload(new Float32Array(6), [3, 2]);
    expect(() => softmaxCrossEntropy(e, lt, e.upload(new Float32Array(3), [3]))).toThrow(/labels must be i32/);
    expect(() => softmaxCrossEntropy(e, lt, e.upload(new Int32Array(2), [2]))).toThrow(/one class index per row/);
    expect(() => sigmoidBinaryCrossEntropy(e, lt, e.upload(new Float32Array(3), [3]))).toThrow(/logits must have shape \[N, 1\] or \[N\]/);
    expect(() => accuracy(e, lt, e.upload(new Float32Array(3), [3]))).toThrow(/multi-class labels must be i32/);
  });
});
