// Training really learns on real images: the alpaca set (24 images per class), 96x96, ImageNet
// MobileNetV2 (TF-Slim, alpha 1.0) frozen, a new Dense(1) head. Validation accuracy must rise clearly
// above chance. Also runs the augmented path and a fine-tuning epoch (finite loss, base weights move).
import { describe, it, beforeAll, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MobileNetV2Net, ImageBatches, adam, fit, folderDataset, importTfSlim, weightSource, type Engine, type FitEvent } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { FolderSplitSource, listImageFolder } from '../../packages/cli/src/data/image-folder.js';

const SHARED = new URL('../../../shared/', import.meta.url).pathname;
const ALPACA = join(SHARED, 'datasets/alpaca/dataset');
const WEIGHTS = join(SHARED, 'weights/tfslim_npy_mobilenet_v2_1.0_224');

type EpochEv = Extract<FitEvent, { type: 'epoch' }>;

async function run(gen: AsyncGenerator<FitEvent>): Promise<{ epochs: EpochEv[]; diverged: boolean; featureCache: boolean }> {
  const epochs: EpochEv[] = [];
  let diverged = false;
  let featureCache = false;
  for await (const ev of gen) {
    if (ev.type === 'epoch') epochs.push(ev);
    if (ev.type === 'diverged') diverged = true;
    if (ev.type === 'cache' && ev.what === 'features') featureCache = true;
  }
  return { epochs, diverged, featureCache };
}

describe(`${GPU} fit: transfer learning on real images`, () => {
  let e: Engine;
  let net: MobileNetV2Net;
  let data: { train: ImageBatches; validation: ImageBatches };
  const S = 96;

  beforeAll(async () => {
    e = await gpuEngine();
    const full = await listImageFolder(ALPACA);
    const listing = Object.fromEntries(Object.entries(full).map(([c, f]) => [c, [...f].sort().slice(0, 24)]));
    const ds = folderDataset(listing, { validationSplit: 0.25, seed: 42 });
    const files: Record<string, Uint8Array> = {};
    for (const f of readdirSync(WEIGHTS).filter((n) => n.endsWith('.npy'))) files[f] = readFileSync(join(WEIGHTS, f));
    const w = importTfSlim(files);
    net = new MobileNetV2Net(e, { alpha: 1.0, inputSize: S, head: { classes: 1, pooling: 'avg', dropout: 0.2, denseName: 'dense' }, weights: weightSource(w.weights), seed: 42 });
    net.setBaseTrainable(false);
    data = {
      train: new ImageBatches(e, new FolderSplitSource(ALPACA, ds.train), { imageSize: S }),
      validation: new ImageBatches(e, new FolderSplitSource(ALPACA, ds.validation), { imageSize: S }),
    };
  });

  it('frozen base, cached features: validation accuracy rises clearly above chance', async () => {
    const t0 = Date.now();
    const r = await run(fit(e, net, data, { epochs: 15, batchSize: 8, loss: 'binary', optimizer: adam({ learningRate: 3e-3 }), seed: 42, augment: null }));
    const va = r.epochs.map((x) => x.valAccuracy!);
    console.log(`[fit] frozen, cached features: val_accuracy ${va.map((v) => v.toFixed(2)).join(' ')}; loss ${r.epochs[0].loss.toFixed(3)} → ${r.epochs.at(-1)!.loss.toFixed(3)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.diverged).toBe(false);
    expect(r.featureCache).toBe(true);
    expect(r.epochs.every((x) => x.featureCache)).toBe(true);
    expect(r.epochs.at(-1)!.loss).toBeLessThan(r.epochs[0].loss);
    expect(Math.max(...va.slice(-3))).toBeGreaterThanOrEqual(0.75);
  });

  it('augmented epoch and a fine-tuning epoch run with finite losses; fine-tuning moves the unfrozen base', async () => {
    // Per-batch decoding (no input cache), with prefetch.
    const streamed = {
      train: new ImageBatches(e, data.train.source, { imageSize: S, cacheBudgetBytes: 0 }),
      validation: new ImageBatches(e, data.validation.source, { imageSize: S, cacheBudgetBytes: 0 }),
    };
    expect(streamed.train.cached).toBe(false);
    const aug = await run(fit(e, net, streamed, { epochs: 1, batchSize: 8, loss: 'binary', optimizer: adam({ learningRate: 1e-3 }), seed: 1, augment: { flip: true, rotation: 0.2 } }));
    expect(aug.featureCache).toBe(false);
    expect(aug.diverged).toBe(false);
    expect(Number.isFinite(aug.epochs[0].loss)).toBe(true);
    expect(aug.epochs[0].trainImages).toBe(data.train.count);

    const names = net.setBaseTrainable(120);
    expect(names[0]).toBe('block_13_depthwise'); // Keras layer 120 of MobileNetV2 (include_top=False)
    const frozenW = net.params().find((p) => p.name === 'block_12_project/kernel')!;
    const tunedW = net.params().find((p) => p.name === 'Conv_1/kernel')!;
    expect(frozenW.trainable).toBe(false);
    expect(tunedW.trainable).toBe(true);
    const [f0, t0] = [await frozenW.value.read(), await tunedW.value.read()];
    const ft = await run(fit(e, net, data, { epochs: 2, initialEpoch: 1, batchSize: 8, loss: 'binary', optimizer: adam({ learningRate: 1e-4 }), seed: 2, augment: null }));
    expect(ft.featureCache).toBe(true); // no augmentation: the frozen prefix (blocks 0..12) is cached
    expect(ft.diverged).toBe(false);
    expect(ft.epochs.map((x) => x.epoch)).toEqual([1]);
    expect(await frozenW.value.read()).toEqual(f0);
    expect(await tunedW.value.read()).not.toEqual(t0);
  });

  it('fine-tuning without augmentation caches the frozen prefix: same weights as running the whole base, faster', async () => {
    net.setBaseTrainable(120); // block_13_depthwise: blocks 0..12 and block_13_expand stay frozen
    expect(net.firstTrainableBlock()).toBe(13);
    const start = new Map<string, Float32Array>();
    for (const p of net.params()) start.set(p.name, await p.value.read());
    const once = async (featureCache: boolean) => {
      for (const p of net.params()) e.write(p.value, start.get(p.name)!);
      const t0 = Date.now();
      const r = await run(fit(e, net, data, { epochs: 2, batchSize: 8, loss: 'binary', optimizer: adam({ learningRate: 1e-3 }), seed: 5, augment: null, featureCache }));
      const seconds = (Date.now() - t0) / 1000;
      const w = new Map<string, Float32Array>();
      for (const p of net.params()) w.set(p.name, await p.value.read());
      return { r, seconds, w };
    };
    const slow = await once(false);
    const fast = await once(true);
    expect(slow.r.epochs[0].featureCache).toBe(false);
    expect(fast.r.epochs[0].featureCache).toBe(true);
    expect(fast.r.featureCache).toBe(true); // the 'cache' events of the prefix
    fast.r.epochs.forEach((ep, i) => {
      expect(ep.loss).toBeCloseTo(slow.r.epochs[i].loss, 4);
      expect(ep.valLoss!).toBeCloseTo(slow.r.epochs[i].valLoss!, 4);
    });
    const moved: string[] = [];
    for (const [name, a] of slow.w) {
      const b = fast.w.get(name)!;
      let maxAbs = 0;
      let diff = 0;
      for (let i = 0; i < a.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[i]));
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
      }
      if (diff > 1e-4 * Math.max(maxAbs, 1e-3)) moved.push(`${name}: ${diff}`);
    }
    expect(moved).toEqual([]);
    console.log(`[fit] fine-tune from layer 120, 2 epochs at ${S}²: whole base ${slow.seconds.toFixed(2)} s, cached prefix ${fast.seconds.toFixed(2)} s`);
  });

  it('a non-finite loss stops training with a diverged event (no epoch event)', async () => {
    for (const p of net.params()) if (!p.name.includes('moving_')) p.trainable = false;
    for (const p of net.head!.params()) p.trainable = true;
    const r = await run(fit(e, net, data, { epochs: 3, batchSize: 8, loss: 'binary', optimizer: adam({ learningRate: 3e38 }), seed: 3, augment: null }));
    expect(r.diverged).toBe(true);
    expect(r.epochs.length).toBe(0);
  });
});
