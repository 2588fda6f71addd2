import { describe, it, beforeAll, expect } from 'vitest';
import {
  resizeImages,
  uploadImagesU8,
  packImagesU8,
  aspectCropBox,
  PREPROCESS,
  augment,
  augmentWithParams,
  uploadAugmentParams,
  augmentDrawsFor,
  ShapeError,
  relu6,
  type Engine,
  type Tensor,
} from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { rng, randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { resizeRef, transformRef, reflectRef, rotationMatrixRef } from '../reference/image.js';

const randBytes = (n: number, seed: number) => {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
};
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('image references', () => {
  it('resize matches the known tf.image.resize bilinear output for 2x2 → 4x4', () => {
    // tf.image.resize([[0,1],[2,3]] as [1,2,2,1] → 4x4): rows 0,.25,.75,1 (+ 2·row offset).
    const src = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3];
    const y = resizeRef(src, [1, 2, 2, 3], 4, 4);
    const ch0 = Array.from({ length: 16 }, (_, i) => y[i * 3]);
    expectClose(ch0, [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3], { what: 'tf 2x2→4x4' });
  });
  it('reflect fill is (d c b a | a b c d | d c b a) about the outer pixel edge', () => {
    expect([-1, -2, -3, -4, 4, 5, 6, 7].map((c) => reflectRef(c, 4))).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    expect([-9, 8, 11.5, -0.25, 3.25].map((c) => reflectRef(c, 4))).toEqual([0, 0, 3, 0, 3]);
    expect(reflectRef(-1.5, 4)).toBe(0.5);
    expect(reflectRef(5, 1)).toBe(0);
  });
  it('a quarter turn of a square image is the exact counter-clockwise pixel rotation', () => {
    const S = 3;
    const x = Array.from({ length: S * S }, (_, i) => i); // row-major 0..8
    const y = transformRef(x, [1, S, S, 1], [Math.PI / 2], [false]);
    // Counter-clockwise: the top row of the output is the right column of the input, read top to bottom.
    expectClose(y, [2, 5, 8, 1, 4, 7, 0, 3, 6], { atol: 1e-12, what: 'rot90' });
    expect(rotationMatrixRef(0, 5, 7).map((v) => Math.abs(v))).toEqual([1, 0, 0, 0, 1, 0]);
  });
  it("aspect crop box follows Keras' crop_to_aspect_ratio", () => {
    expect(aspectCropBox(480, 640, 224, 224)).toEqual({ top: 0, left: 80, height: 480, width: 480 });
    expect(aspectCropBox(7, 5, 3, 4)).toEqual({ top: 2, left: 0, height: 3, width: 5 });
    expect(aspectCropBox(5, 9, 2, 2)).toEqual({ top: 0, left: 2, height: 5, width: 5 });
  });
  it('packs uint8 little-endian, 4 per word', () => {
    expect(Array.from(packImagesU8(Uint8Array.of(1, 2, 3, 4, 5)))).toEqual([0x04030201, 5]);
  });
});

describe(`${GPU} image resize`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  const cases: { name: string; shape: [number, number, number, number]; out: [number, number]; packed: boolean; pre: 'tf' | 'torch' | 'none' }[] = [
    { name: 'packed RGB 7x5 → 3x4 (downscale, 3-byte pixels across words)', shape: [2, 7, 5, 3], out: [3, 4], packed: true, pre: 'none' },
    { name: 'packed RGBA 2x3 → 5x7 (upscale), tf scaling', shape: [2, 2, 3, 4], out: [5, 7], packed: true, pre: 'tf' },
    { name: 'packed RGB 1x1 → 3x2, torch scaling', shape: [3, 1, 1, 3], out: [3, 2], packed: true, pre: 'torch' },
    { name: 'f32 RGB 4x6 → 1x1', shape: [1, 4, 6, 3], out: [1, 1], packed: false, pre: 'tf' },
    { name: 'f32 RGBA 5x3 → 8x2, torch scaling', shape: [2, 5, 3, 4], out: [8, 2], packed: false, pre: 'torch' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const bytes = randBytes(prod(c.shape), prod(c.shape) + c.out[0]);
      const src = c.packed ? uploadImagesU8(e, bytes, c.shape) : e.upload(Float32Array.from(bytes), c.shape);
      const y = resizeImages(e, src, { height: c.out[0], width: c.out[1], srcShape: c.packed ? c.shape : undefined, preprocess: c.pre });
      expect(y.shape).toEqual([c.shape[0], ...c.out, 3]);
      const ref = resizeRef(bytes, c.shape, c.out[0], c.out[1], undefined, PREPROCESS[c.pre]);
      expectClose(await y.read(), ref, { rtol: 1e-5, atol: c.pre === 'none' ? 2e-4 : 2e-6, what: c.name });
      [src, y].forEach((t) => t.dispose());
    });
  }

  it('tf scaling maps 0 → -1, 127.5 → 0, 255 → 1 (resize to the same size is the identity)', async () => {
    const bytes = Uint8Array.of(0, 255, 128, 255, 0, 127);
    const src = uploadImagesU8(e, bytes, [1, 1, 2, 3]);
    const y = resizeImages(e, src, { height: 1, width: 2, srcShape: [1, 1, 2, 3] });
    expectClose(await y.read(), Array.from(bytes, (b) => b / 127.5 - 1), { rtol: 0, atol: 1e-6, what: 'tf scaling' });
    [src, y].forEach((t) => t.dispose());
  });

  it('crop box, aspect crop, and per-image writes into one batch tensor', async () => {
    const shapeA: [number, number, number, number] = [1, 9, 6, 3];
    const shapeB: [number, number, number, number] = [1, 4, 11, 3];
    const a = randBytes(prod(shapeA), 5);
    const b = randBytes(prod(shapeB), 6);
    const ta = uploadImagesU8(e, a, shapeA);
    const tb = uploadImagesU8(e, b, shapeB);
    const batch = e.alloc([3, 4, 3, 3]);
    const box = { top: 2, left: 1, height: 5, width: 4 };
    resizeImages(e, ta, { height: 4, width: 3, srcShape: shapeA, crop: box, out: batch, outIndex: 0 });
    resizeImages(e, tb, { height: 4, width: 3, srcShape: shapeB, crop: 'aspect', out: batch, outIndex: 2 });
    resizeImages(e, ta, { height: 4, width: 3, srcShape: shapeA, out: batch, outIndex: 1 });
    const got = await batch.read();
    const s = PREPROCESS.tf;
    const refA = resizeRef(a, shapeA, 4, 3, box, s);
    const refFull = resizeRef(a, shapeA, 4, 3, undefined, s);
    const boxB = aspectCropBox(4, 11, 4, 3);
    expect(boxB).toEqual({ top: 0, left: 4, height: 4, width: 3 });
    const refB = resizeRef(b, shapeB, 4, 3, boxB, s);
    const per = 4 * 3 * 3;
    expectClose(got.subarray(0, per), refA, { atol: 2e-6, what: 'crop box' });
    expectClose(got.subarray(per, 2 * per), refFull, { atol: 2e-6, what: 'full image' });
    expectClose(got.subarray(2 * per), refB, { atol: 2e-6, what: 'aspect crop' });
    [ta, tb, batch].forEach((t) => t.dispose());
  });

  it('uploadImagesU8 is not overwritten by recorded work of a buffer released before the upload', async () => {
    const x = e.upload(new Float32Array(3).fill(3), [1, 1, 1, 3]);
    await e.sync();
    const pending = relu6(e, x); // recorded, not submitted
    pending.dispose(); // its buffer goes back to the pool while its dispatch is still pending
    const bytes = Uint8Array.of(10, 20, 30, 40); // 1 word, 16-byte buffer like `pending`'s
    const src = uploadImagesU8(e, bytes.subarray(0, 3), [1, 1, 1, 3]);
    const y = resizeImages(e, src, { height: 1, width: 1, srcShape: [1, 1, 1, 3], preprocess: 'none' });
    expect(Array.from(await y.read())).toEqual([10, 20, 30]);
    [x, src, y].forEach((t) => t.dispose());
  });

  it('rejects bad shapes and boxes', () => {
    const src = uploadImagesU8(e, new Uint8Array(2 * 3 * 3), [1, 2, 3, 3]);
    expect(() => resizeImages(e, src, { height: 2, width: 2 })).toThrow(ShapeError);
    expect(() => resizeImages(e, src, { height: 2, width: 2, srcShape: [1, 4, 3, 3] })).toThrow(/words/);
    expect(() => resizeImages(e, src, { height: 2, width: 2, srcShape: [1, 2, 3, 3], crop: { top: 1, left: 0, height: 2, width: 3 } })).toThrow(/crop/);
    expect(() => resizeImages(e, src, { height: 0, width: 2, srcShape: [1, 2, 3, 3] })).toThrow(ShapeError);
    const f = e.upload(new Float32Array(2 * 2 * 2), [1, 2, 2, 2]);
    expect(() => resizeImages(e, f, { height: 2, width: 2 })).toThrow(/channels/);
    [src, f].forEach((t) => t.dispose());
  });
});

describe(`${GPU} image augment`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  it('explicit angles/flips match the f64 reference (reflect fill, flip then rotate)', async () => {
    const shape = [6, 6, 7, 3];
    const x = randArray(prod(shape), 11);
    const angles = [0, Math.PI / 2, 0.3, -1.0, 2.5, -3.0];
    const flips = [false, true, true, false, true, true];
    const xt = e.upload(f32(x), shape);
    const params = uploadAugmentParams(e, { angles, flips }, 6);
    const y = augmentWithParams(e, xt, params);
    const ref = transformRef(x, shape, Float32Array.from(angles), flips);
    expectClose(await y.read(), ref, { rtol: 0, atol: 1e-5, what: 'augment explicit' });
    [xt, params, y].forEach((t) => t.dispose());
  });

  it('a quarter turn of a square image and a flip are exact pixel permutations', async () => {
    const S = 5;
    const shape = [2, S, S, 2];
    const x = randArray(prod(shape), 12);
    const xt = e.upload(f32(x), shape);
    const params = uploadAugmentParams(e, { angles: [Math.PI / 2, 0], flips: [false, true] }, 2);
    const y = await augmentWithParams(e, xt, params).read();
    const ref = transformRef(x, shape, [Math.PI / 2, 0], [false, true]);
    expectClose(y, ref, { rtol: 0, atol: 1e-6, what: 'rot90 / flip' });
    [xt, params].forEach((t) => t.dispose());
  });

  it('seeded draws: flips ~50% over many images, and match the host mirror of the hash', async () => {
    const N = 600;
    const shape = [N, 1, 2, 1];
    const x = new Float32Array(N * 2);
    for (let b = 0; b < N; b++) x[2 * b + 1] = 1; // each image [0, 1]; flipped: [1, 0]
    const xt = e.upload(x, shape);
    const opts = { flip: true, seed: 1234 };
    const y = await augment(e, xt, opts).read();
    const flipped = Array.from({ length: N }, (_, b) => y[2 * b] === 1 && y[2 * b + 1] === 0);
    const unflipped = Array.from({ length: N }, (_, b) => y[2 * b] === 0 && y[2 * b + 1] === 1);
    expect(flipped.every((f, b) => f !== unflipped[b])).toBe(true);
    const rate = flipped.filter(Boolean).length / N;
    expect(rate).toBeGreaterThan(0.43);
    expect(rate).toBeLessThan(0.57);
    expect(flipped).toEqual(augmentDrawsFor(N, opts).flips);
    xt.dispose();
  });

  it('seeded rotation = explicit transform with the host draws = reference; same seed same output, new seed differs', async () => {
    const shape = [5, 6, 5, 3];
    const x = randArray(prod(shape), 13);
    const xt = e.upload(f32(x), shape);
    const opts = { flip: true, rotation: 0.2, seed: 42 };
    const y1 = await augment(e, xt, opts).read();
    const y2 = await augment(e, xt, opts).read();
    const y3 = await augment(e, xt, { ...opts, seed: 43 }).read();
    expect(Array.from(y2)).toEqual(Array.from(y1));
    expect(Array.from(y3)).not.toEqual(Array.from(y1));
    const draws = augmentDrawsFor(5, opts);
    expect(draws.angles.every((a) => Math.abs(a) <= 0.2 * 2 * Math.PI)).toBe(true);
    expect(new Set(draws.angles).size).toBe(5);
    const params = uploadAugmentParams(e, draws, 5);
    const yExplicit = await augmentWithParams(e, xt, params).read();
    expectClose(y1, yExplicit, { rtol: 0, atol: 1e-5, what: 'hash vs explicit' });
    expectClose(y1, transformRef(x, shape, draws.angles, draws.flips), { rtol: 0, atol: 1e-5, what: 'hash vs reference' });
    // index0 continues the counter: images 2.. of a batch equal a batch starting at index0 = 2.
    const tail = e.upload(f32(x.subarray(2 * 6 * 5 * 3)), [3, 6, 5, 3]);
    const yTail = await augment(e, tail, { ...opts, index0: 2 }).read();
    expect(Array.from(yTail)).toEqual(Array.from(y1.subarray(2 * 6 * 5 * 3)));
    [xt, params, tail].forEach((t: Tensor) => t.dispose());
  });

  it('no flip and no rotation is a copy; bad inputs throw', async () => {
    const x = e.upload(f32(randArray(12, 3)), [1, 2, 2, 3]);
    const y = augment(e, x, { seed: 1 });
    expect(Array.from(await y.read())).toEqual(Array.from(await x.read()));
    expect(() => augment(e, x.reshape([4, 3]), { seed: 1, flip: true })).toThrow(ShapeError);
    expect(() => augment(e, x, { seed: 1.5, flip: true })).toThrow(/seed/);
    expect(() => augmentWithParams(e, x, x)).toThrow(ShapeError);
    [x, y].forEach((t) => t.dispose());
  });
});
