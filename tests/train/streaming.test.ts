// Issue 13: the paged, bounded caches and their fallbacks give the same training as the cached
// path. With a tiny forced page size every cache spans several pages; with a tiny budget the same
// run streams its inputs (decoded per batch) or recomputes the frozen part of the base per batch.
// Same seed, one epoch: the weights must agree. Each test asserts which path ran.
import { describe, it, beforeAll, expect } from 'vitest';
import { MobileNetV2Net, ImageBatches, CacheBudget, adam, fit, memoryImageSource, seededRandom, type Engine, type FitEvent, type FitImage, type ImageSplitSource } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { resizeRef } from '../reference/image.js';
import { quantizeRef } from '../reference/u8-rows.js';

const S = 32;

/** Seeded images of assorted sizes (so every image is really resized), two classes. */
function images(n: number, seed: number): { imgs: FitImage[]; labels: number[] } {
  const r = seededRandom(seed);
  const imgs: FitImage[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = 20 + Math.floor(r() * 30);
    const h = 20 + Math.floor(r() * 30);
    const k = i % 2;
    const rgb = new Uint8Array(w * h * 3);
    for (let p = 0; p < w * h; p++) {
      const y = Math.floor(p / w);
      const on = Math.floor(y / (k + 2)) % 2 === 0;
      rgb[3 * p] = (on ? 200 : 40) + r() * 50;
      rgb[3 * p + 1] = (on ? 60 + 90 * k : 30) + r() * 50;
      rgb[3 * p + 2] = r() * 255;
    }
    imgs.push({ width: w, height: h, rgb });
    labels.push(k);
  }
  return { imgs, labels };
}

async function drain(gen: AsyncGenerator<FitEvent>): Promise<FitEvent[]> {
  const out: FitEvent[] = [];
  for await (const ev of gen) out.push(ev);
  return out;
}

const plans = (evs: FitEvent[]) => evs.filter((v): v is Extract<FitEvent, { type: 'plan' }> => v.type === 'plan');
const epochs = (evs: FitEvent[]) => evs.filter((v): v is Extract<FitEvent, { type: 'epoch' }> => v.type === 'epoch');

async function weights(net: MobileNetV2Net): Promise<Map<string, Float32Array>> {
  const m = new Map<string, Float32Array>();
  for (const p of net.params()) m.set(p.name, await p.value.read());
  return m;
}

/** Largest |a − b| over all parameters, and how many parameter tensors changed from `before`. */
function compare(a: Map<string, Float32Array>, b: Map<string, Float32Array>, before: Map<string, Float32Array>): { maxDiff: number; moved: number } {
  let maxDiff = 0;
  let moved = 0;
  for (const [k, va] of a) {
    const vb = b.get(k)!;
    const v0 = before.get(k)!;
    let changed = false;
    for (let i = 0; i < va.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(va[i] - vb[i]));
      if (va[i] !== v0[i]) changed = true;
    }
    if (changed) moved++;
  }
  return { maxDiff, moved };
}

const newNet = (e: Engine) => new MobileNetV2Net(e, { alpha: 0.35, inputSize: S, head: { classes: 1, pooling: 'avg', dropout: 0.2 }, seed: 11 });

describe(`${GPU} streaming and paged caches give the same training as the cached path`, () => {
  let e: Engine;
  let train: ImageSplitSource;
  let val: ImageSplitSource;
  let data: { imgs: FitImage[]; labels: number[] };
  const rowBytes = S * S * 3; // 3072: a whole number of words

  beforeAll(async () => {
    e = await gpuEngine();
    data = images(14, 3);
    const v = images(5, 4);
    train = memoryImageSource(data.imgs, data.labels);
    val = memoryImageSource(v.imgs, v.labels);
  });

  it('input cache: uint8 rows in several pages equal the streamed batches and the CPU reference', async () => {
    const cached = new ImageBatches(e, train, { imageSize: S, budget: new CacheBudget(1 << 20), maxPageBytes: 3 * rowBytes + 100 });
    const streamed = new ImageBatches(e, train, { imageSize: S, budget: new CacheBudget(14 * rowBytes - 1) });
    expect(cached.mode).toBe('cached');
    expect(streamed.mode).toBe('streaming');
    for await (const _ of cached.fill()); // eslint-disable-line @typescript-eslint/no-unused-vars
    for await (const _ of streamed.fill()); // eslint-disable-line @typescript-eslint/no-unused-vars
    expect(cached.pages).toBe(5); // 14 rows, 3 per page
    expect(streamed.pages).toBe(0);
    const ids = [13, 2, 3, 4, 0, 7]; // crosses page boundaries, with a run of consecutive rows
    const a = await cached.batch(ids);
    const b = await streamed.batch(ids);
    const xa = await a.x.read();
    const xb = await b.x.read();
    expect(a.x.shape).toEqual([6, S, S, 3]);
    expect(Array.from(xa)).toEqual(Array.from(xb));
    // CPU: TF bilinear resize to S (raw 0..255), rounded to uint8, then x / 127.5 - 1.
    let off = 0;
    let exact = 0;
    const per = S * S * 3;
    ids.forEach((i, k) => {
      const img = data.imgs[i];
      const ref = resizeRef(img.rgb, [1, img.height, img.width, 3], S, S);
      for (let j = 0; j < per; j++) {
        const want = quantizeRef(ref[j]) / 127.5 - 1;
        const d = Math.abs(xa[k * per + j] - want);
        off = Math.max(off, d);
        if (d < 1e-6) exact++;
      }
    });
    expect(off).toBeLessThan(1 / 127.5 + 1e-6); // at most one uint8 step where f32 and f64 round a tie differently
    expect(exact / (ids.length * per)).toBeGreaterThan(0.999);
    [a.x, b.x].forEach((t) => t.dispose());
    cached.dispose();
    streamed.dispose();
  });

  it('streaming images of many different sizes does not leave a buffer per size behind (device memory stays flat)', async () => {
    const r = seededRandom(9);
    const make = (k: number): FitImage => {
      const w = 90 + k * 7; // every image a different size
      const h = 200 - k * 3;
      const rgb = new Uint8Array(w * h * 3);
      for (let i = 0; i < rgb.length; i++) rgb[i] = (r() * 256) | 0;
      return { width: w, height: h, rgb };
    };
    const imgs = Array.from({ length: 24 }, (_, k) => make(k));
    const b = new ImageBatches(e, memoryImageSource(imgs, imgs.map((_, i) => i % 2)), { imageSize: S, budget: new CacheBudget(0) });
    const pass = async (from: number, to: number) => {
      for (let a = from; a < to; a += 4) {
        const x = (await b.batch([a, a + 1, a + 2, a + 3])).x;
        await x.read();
        x.dispose();
      }
    };
    await pass(0, 12);
    const after12 = e.pool.allocatedBytes;
    await pass(12, 24); // 12 more sizes
    expect(e.pool.allocatedBytes).toBe(after12);
  });

  it('peak device memory of an epoch does not grow with a partial last batch (it runs in the full batch\'s idle buffers)', async () => {
    const peak = async (n: number) => {
      const net = newNet(e);
      net.setBaseTrainable(false);
      // one image size throughout, so only the batch size differs between the runs
      const src = memoryImageSource(
        Array.from({ length: n }, (_, i) => data.imgs[i % 2]).map((im) => ({ ...im, rgb: im.rgb.slice() })),
        Array.from({ length: n }, (_, i) => data.labels[i % 2]),
      );
      const d = { train: new ImageBatches(e, src, { imageSize: S, budget: new CacheBudget(0) }), validation: null };
      e.trimPool();
      const base = e.pool.allocatedBytes;
      e.pool.peakBytes = base;
      await drain(fit(e, net, d, { epochs: 1, batchSize: 4, loss: 'binary', optimizer: adam({ learningRate: 1e-3 }), seed: 1, augment: { flip: true, rotation: 0 } }));
      return { peak: e.pool.peakBytes - base, allocated: e.pool.allocatedBytes - base };
    };
    const full = await peak(8); // batches 4, 4
    const partial = await peak(11); // batches 4, 4, 3
    expect(full.peak).toBeGreaterThan(0);
    // Without reuse: ~1.5x (a second set of activation buffers); with the idle set released and
    // re-made at the smaller size, the peak holds but memory churns. The partial batch allocates nothing.
    expect(partial.peak).toBeLessThanOrEqual(full.peak);
    expect(partial.allocated).toBeLessThanOrEqual(full.allocated);
  });

  it('input cache: one augmented epoch, cached (5 pages) vs streaming (budget too small), gives identical weights', async () => {
    const run = async (budget: number) => {
      const net = newNet(e);
      net.setBaseTrainable(false);
      net.setBaseTrainable(130); // a few base layers train too
      const before = await weights(net);
      const d = {
        train: new ImageBatches(e, train, { imageSize: S, budget: new CacheBudget(budget), maxPageBytes: 3 * rowBytes }),
        validation: new ImageBatches(e, val, { imageSize: S, budget: new CacheBudget(budget), maxPageBytes: 3 * rowBytes }),
      };
      const evs = await drain(fit(e, net, d, { epochs: 1, batchSize: 4, loss: 'binary', optimizer: adam({ learningRate: 1e-2 }), seed: 7, augment: { flip: true, rotation: 0.1 } }));
      const w = await weights(net);
      d.train.dispose();
      d.validation.dispose();
      return { evs, w, before, pages: 0 };
    };
    const c = await run(1 << 20);
    const s = await run(1000);
    const pc = plans(c.evs);
    const ps = plans(s.evs);
    expect(pc.map((p) => [p.split, p.plan.what, p.plan.mode])).toEqual([['train', 'inputs', 'cached'], ['validation', 'inputs', 'cached']]);
    expect(pc[0].plan.pages).toBe(5);
    expect(pc[0].message).toMatch(/caching uint8 inputs of 14 images: .* in 5 pages/);
    expect(ps.map((p) => [p.split, p.plan.what, p.plan.mode])).toEqual([['train', 'inputs', 'streaming'], ['validation', 'inputs', 'streaming']]);
    expect(ps[0].message).toMatch(/^inputs \(train\): streaming 14 images/);
    expect(epochs(c.evs)[0].trainImages).toBe(14);
    expect(epochs(s.evs)[0].trainImages).toBe(14);
    const r = compare(c.w, s.w, c.before);
    expect(r.moved).toBeGreaterThan(2); // training really changed weights (head and unfrozen base)
    expect(r.maxDiff).toBe(0);
    expect(epochs(s.evs)[0].loss).toBe(epochs(c.evs)[0].loss);
    expect(epochs(s.evs)[0].valLoss).toBe(epochs(c.evs)[0].valLoss);
  });

  for (const kind of ['features', 'prefix'] as const) {
    it(`${kind} cache: cached in several pages vs recomputed per batch (budget too small), same weights after one epoch`, async () => {
      const run = async (featureBudget: number) => {
        const net = newNet(e);
        net.setBaseTrainable(false);
        if (kind === 'prefix') net.setBaseTrainable(120); // block_13 on: the activation entering block 13 is cached
        const before = await weights(net);
        const d = { train: new ImageBatches(e, train, { imageSize: S }), validation: new ImageBatches(e, val, { imageSize: S }) };
        const rowB = kind === 'features' ? 1280 * 4 : 2 * 2 * 32 * 4;
        const evs = await drain(
          fit(e, net, d, { epochs: 1, batchSize: 4, loss: 'binary', optimizer: adam({ learningRate: 1e-2 }), seed: 5, augment: null, cacheBudget: new CacheBudget(featureBudget), maxPageBytes: 4 * rowB }),
        );
        const w = await weights(net);
        d.train.dispose();
        d.validation.dispose();
        return { evs, w, before };
      };
      const c = await run(1 << 24);
      const r0 = await run(100);
      const pc = plans(c.evs).find((p) => p.split === 'all')!;
      const pr = plans(r0.evs).find((p) => p.split === 'all')!;
      expect([pc.plan.what, pc.plan.mode]).toEqual([kind, 'cached']);
      expect([pr.plan.what, pr.plan.mode]).toEqual([kind, 'recompute']);
      expect(pr.message).toMatch(/recomputing/);
      // Real pages: 14 train rows and 5 validation rows, 4 per page.
      const pages = c.evs.filter((v): v is Extract<FitEvent, { type: 'cache' }> => v.type === 'cache' && v.what === 'features' && v.pages !== undefined).map((v) => [v.split, v.pages]);
      expect(pages).toEqual([['train', 4], ['validation', 2]]);
      expect(pc.plan.pages).toBe(6);
      expect(r0.evs.some((v) => v.type === 'cache' && v.what === 'features')).toBe(false);
      expect(epochs(c.evs)[0].featureCache).toBe(true);
      expect(epochs(r0.evs)[0].featureCache).toBe(false);
      const r = compare(c.w, r0.w, c.before);
      expect(r.moved).toBeGreaterThan(kind === 'prefix' ? 4 : 1);
      expect(r.maxDiff).toBeLessThan(1e-6);
      expect(Math.abs(epochs(c.evs)[0].loss - epochs(r0.evs)[0].loss)).toBeLessThan(1e-6);
    });
  }
});
