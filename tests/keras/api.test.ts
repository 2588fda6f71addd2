// The Keras-shaped API: layer-slice freezing (trainable counts checked against an independent sum
// over kerasLayers' weight shapes), sequential validation, datasets (take/skip/cardinality), compile
// checks, save/load round trip, callbacks (early stopping, checkpoint, history).
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MobileNetV2,
  EarlyStopping,
  ModelCheckpoint,
  adam,
  deserializeModel,
  formatCheckpointPath,
  kerasLayers,
  layers,
  losses,
  optimizers,
  sequential,
  weightCount,
  type Engine,
} from '@mnv2/core';
import { loadModel } from '../../packages/cli/src/node.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { patternDataset } from './synthetic.js';

/** Trainable values of the base when layers with index >= from train (Keras list; BN moving stats never). */
function expectedTrainable(inputSize: number, trains: (index: number) => boolean): number {
  let n = 0;
  for (const l of kerasLayers({ alpha: 1.0, inputSize, includeTop: false })) {
    if (!trains(l.index)) continue;
    for (const w of l.weights) if (!w.name.endsWith('moving_mean') && !w.name.endsWith('moving_variance')) n += weightCount(w);
  }
  return n;
}

describe(`${GPU} keras API`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  const head = (out: number) => [layers.globalAveragePooling2d(), layers.dropout(0.2), layers.dense(out)];

  it('base.layers has Keras’ 154 layers; layers.slice(0, -4) freezing leaves exactly the top 4 layers’ weights trainable', async () => {
    const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], weights: null, engine: e });
    expect(base.layers.length).toBe(154);
    expect(base.layers[0].type).toBe('InputLayer');
    expect(base.layers.at(-1)!.name).toBe('out_relu');
    const model = sequential([layers.preprocessInput(), base, ...head(1)]);
    try {
      // Keras: base.trainable = False → only the head trains.
      base.trainable = false;
      expect(base.trainableParamCount()).toBe(0);
      expect(model.trainableParamCount()).toBe(1280 + 1);

      // for layer in base.layers[:-4]: layer.trainable = False
      base.trainable = true;
      for (const l of base.layers.slice(0, -4)) l.trainable = false;
      const want = expectedTrainable(32, (i) => i >= 150);
      expect(want).toBeGreaterThan(0);
      expect(base.layers.filter((l) => l.trainable).map((l) => l.name)).toEqual(['block_16_project_BN', 'Conv_1', 'Conv_1_bn', 'out_relu']);
      expect(base.trainableParamCount()).toBe(want); // counted from the GPU parameters' sizes
      expect(base.countParams().trainable).toBe(want); // counted from the Keras layer list + flags
      expect(model.trainableParamCount()).toBe(want + 1281);
      expect(model.countParams().trainable).toBe(want + 1281);

      // net.setBaseTrainable: index, negative index and name agree; fine_tune_at = 100 as in the TF tutorial.
      base.net.setBaseTrainable(-4);
      expect(base.trainableParamCount()).toBe(want);
      base.net.setBaseTrainable('block_16_project_BN');
      expect(base.trainableParamCount()).toBe(want);
      base.net.setBaseTrainable(100);
      expect(base.trainableParamCount()).toBe(expectedTrainable(32, (i) => i >= 100));
      // Keras prints "Trainable params: 1,862,721" for the TF tutorial's model after fine_tune_at = 100.
      expect(model.countParams().trainable).toBe(1_862_721);
      // A layer frozen inside a trainable base, and the base frozen over it (Keras: base flag wins).
      base.getLayer('Conv_1').trainable = false;
      expect(base.trainableParamCount()).toBe(expectedTrainable(32, (i) => i >= 100) - 320 * 1280);
      base.trainable = false;
      expect(base.trainableParamCount()).toBe(0);
      expect(() => base.getLayer('nope')).toThrow(/no layer named 'nope'/);
      expect(() => base.net.setBaseTrainable(155)).toThrow(/layer index/);
      // Summary totals are Keras' (base 2,257,984 + Dense(1) 1,281).
      const s = model.summary();
      expect(s).toContain('Total params: 2,259,265');
      expect(s).toContain('Trainable params: 1,281');
    } finally {
      model.dispose();
    }
    expect(base.isDisposed).toBe(true);
  });

  it('sequential rejects unsupported layer orders with the supported form; compile checks loss vs output', async () => {
    const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], weights: null, engine: e });
    try {
      expect(() => sequential([base, ...head(1)])).toThrow(/preprocessInput\(\) must come before the base/);
      expect(() => sequential([layers.preprocessInput(), base, layers.dense(1)])).toThrow(/expected global pooling/);
      expect(() => sequential([layers.preprocessInput(), base, layers.globalAveragePooling2d(), layers.dense(128, 'relu'), layers.dropout(0.2), layers.dense(10)])).toThrow(/Dropout at position 4 is not supported.*Supported layer order/s);
      expect(() => sequential([layers.input({ shape: [64, 64, 3] }), layers.preprocessInput(), base, ...head(1)])).toThrow(/inputLayer size 64 differs/);
      const m = sequential([layers.preprocessInput(), base, ...head(3)]);
      expect(() => sequential([layers.preprocessInput(), base, ...head(1)])).toThrow(/already belongs to a model/);
      expect(() => m.compile({ optimizer: adam(), loss: losses.binaryCrossentropy({ fromLogits: true }) })).toThrow(/dense\(1\)/);
      expect(() => m.compile({ optimizer: adam(), loss: losses.sparseCategoricalCrossentropy() })).toThrow(/activation 'softmax'/);
      m.compile({ optimizer: adam(), loss: losses.sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
      await expect(m.fit(patternDataset(8, 5))).rejects.toThrow(/label 4 but the model has 3 outputs/);
      m.dispose();
    } finally {
      base.dispose();
    }
  });

  it('datasets: cardinality, take and skip count batches (the tutorial’s test split)', () => {
    const ds = patternDataset(45, 3, { batchSize: 4 });
    expect(ds.cardinality()).toBe(12);
    const test = ds.take(Math.floor(ds.cardinality() / 5));
    const val = ds.skip(Math.floor(ds.cardinality() / 5));
    expect(test.cardinality()).toBe(2);
    expect(test.size).toBe(8);
    expect(val.size).toBe(37);
    expect(val.cardinality()).toBe(10);
    expect([...test.labels, ...val.labels]).toEqual(ds.labels);
    expect(ds.prefetch()).toBe(ds);
    expect(ds.take(100).size).toBe(45);
    expect(ds.skip(100).size).toBe(0);
  });

  it('predict and evaluate: a last, smaller batch runs in the full batches\' idle buffers (device memory does not depend on the dataset size modulo the batch size)', async () => {
    const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], alpha: 0.35, weights: null, engine: e });
    const model = sequential([layers.preprocessInput(), base, ...head(1)]);
    model.compile({ optimizer: adam(), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    try {
      const run = async (n: number) => {
        const ds = patternDataset(n, 2, { batchSize: 4 }).cache(0); // streamed: no input cache in the figures
        e.trimPool();
        const start = e.pool.allocatedBytes;
        e.pool.peakBytes = start;
        const rows = await model.predict(ds);
        const ev = await model.evaluate(ds);
        ds.dispose();
        return { rows: rows.length, samples: ev.samples, peak: e.pool.peakBytes - start };
      };
      await run(8); // compiles the pipelines first
      const full = await run(8); // batches 4, 4
      const partial = await run(11); // batches 4, 4, 3
      expect([full.rows, full.samples, partial.rows, partial.samples]).toEqual([8, 8, 11, 11]);
      expect(full.peak).toBeGreaterThan(0);
      expect(partial.peak).toBeLessThanOrEqual(full.peak);
    } finally {
      model.dispose();
    }
  });

  it('dataset.cache(budget): within the budget the resized images are cached on the GPU, cache(0) streams; the batches are the same', async () => {
    const ds = patternDataset(10, 2, { batchSize: 4 }).prefetch(3);
    const cached = ds.cache(1 << 20);
    const streamed = ds.cache(0);
    expect(streamed.prefetchBatches).toBe(3);
    expect(streamed.labels).toEqual(ds.labels);
    const c = cached.batchesFor(e, 32);
    const s = streamed.batchesFor(e, 32);
    expect([c.plan.mode, s.plan.mode]).toEqual(['cached', 'streaming']);
    for await (const _ of c.fill()); // eslint-disable-line @typescript-eslint/no-unused-vars
    for await (const _ of s.fill()); // eslint-disable-line @typescript-eslint/no-unused-vars
    const ids = [0, 3, 7, 9];
    const bc = await c.batch(ids);
    const bs = await s.batch(ids, s.prefetch(ids));
    expect(Array.from(await bs.x.read())).toEqual(Array.from(await bc.x.read()));
    bc.x.dispose();
    bs.x.dispose();
    cached.dispose();
    streamed.dispose();
    expect(() => ds.cache(-1)).toThrow(/budget must be a byte count/);
  });

  it('fit → History, evaluate, predict; save/load round trip gives the same predictions; callbacks', async () => {
    const train = patternDataset(24, 2, { seed: 3 });
    const val = patternDataset(12, 2, { seed: 4 });
    const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], weights: null, engine: e, seed: 5 });
    base.trainable = false;
    const model = sequential([layers.input({ shape: [32, 32, 3] }), layers.preprocessInput(), base, layers.globalAveragePooling2d(), layers.dense(1)], { seed: 9 });
    const dir = mkdtempSync(join(tmpdir(), 'mnv2-keras-'));
    try {
      model.compile({ optimizer: adam({ learningRate: 1e-2 }), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
      const ckpt = new ModelCheckpoint({ filepath: join(dir, 'ckpt-{epoch:02d}.safetensors') });
      const lines: string[] = [];
      const h = await model.fit(train, { epochs: 3, validationData: val, verbose: 0, callbacks: [ckpt, { onEpochEnd: (ep, logs) => void lines.push(`${ep}:${logs.loss.toFixed(3)}`) }] });
      expect(h.epoch).toEqual([0, 1, 2]);
      expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss', 'seconds', 'val_accuracy', 'val_loss']);
      expect(h.history.loss.every(Number.isFinite)).toBe(true);
      expect(lines.length).toBe(3);
      expect(ckpt.saved.map((p) => p.slice(dir.length + 1))).toEqual(['ckpt-01.safetensors', 'ckpt-02.safetensors', 'ckpt-03.safetensors']);
      expect(existsSync(ckpt.saved[2])).toBe(true);

      const ev = await model.evaluate(val);
      expect(ev.samples).toBe(12);
      expect(ev.loss).toBeCloseTo(h.history.val_loss[2], 4); // same weights, same data, inference mode
      expect(ev.accuracy).toBeCloseTo(h.history.val_accuracy[2], 6);
      const p = await model.predict(val);
      expect(p.length).toBe(12);
      expect(p[0].length).toBe(1);
      const imgs = (await val.firstBatch()).images;
      const p2 = await model.predict(imgs);
      for (let i = 0; i < imgs.length; i++) expect(p2[i][0]).toBeCloseTo(p[i][0], 4);

      // Round trip through bytes, and through a file with the Node entry's loadModel.
      const bytes = await model.serialize();
      const back = await deserializeModel(bytes, { engine: e });
      const q = await back.predict(val);
      for (let i = 0; i < p.length; i++) expect(q[i][0]).toBeCloseTo(p[i][0], 5);
      expect(back.base.trainable).toBe(false);
      expect(back.countParams()).toEqual(model.countParams());
      back.dispose();
      const fromFile = await loadModel(ckpt.saved[2], { engine: e });
      const r = await fromFile.predict(val);
      for (let i = 0; i < p.length; i++) expect(r[i][0]).toBeCloseTo(p[i][0], 5);
      fromFile.dispose();

      // EarlyStopping with patience 0 on a metric that cannot improve (min_delta huge) stops after epoch 2.
      const es = new EarlyStopping({ monitor: 'val_loss', patience: 1, minDelta: 1e9 });
      const h2 = await model.fit(train, { epochs: 10, initialEpoch: 3, validationData: val, verbose: 0, callbacks: [es] });
      expect(h2.epoch).toEqual([3, 4]);
      expect(es.stoppedEpoch).toBe(4);
      expect(model.stopTraining).toBe(true);
    } finally {
      model.dispose();
      train.dispose();
      val.dispose();
    }
  });

  it('fit after layers.slice(0, -4) freezing changes exactly the unfrozen weights (BN statistics stay)', async () => {
    const train = patternDataset(16, 2, { seed: 7 });
    const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], weights: null, engine: e, seed: 2 });
    const model = sequential([layers.preprocessInput(), base, layers.globalAveragePooling2d(), layers.dense(2)]);
    try {
      for (const l of base.layers.slice(0, -4)) l.trainable = false;
      model.compile({ optimizer: optimizers.adam(1e-2), loss: losses.sparseCategoricalCrossentropy({ fromLogits: true }) });
      const before = await model.getWeights();
      await model.fit(train, { epochs: 1, verbose: 0 });
      const after = await model.getWeights();
      const trainable = new Set(base.layers.slice(-4).map((l) => l.name));
      const changed: string[] = [];
      for (const [name, w] of after) {
        const b = before.get(name)!;
        if (w.data.some((v, i) => v !== b.data[i])) changed.push(name);
      }
      const want = [...after.keys()].filter((n) => (trainable.has(n.slice(0, n.lastIndexOf('/'))) && !n.includes('moving_')) || n.startsWith('dense/'));
      expect(changed.sort()).toEqual(want.sort());
      expect(want).toContain('Conv_1/kernel');
      expect(want).toContain('block_16_project_BN/gamma');
    } finally {
      model.dispose();
      train.dispose();
    }
  });

  it('optimizers take a learning rate like Keras (optimizers.adam(1e-4))', () => {
    const a = optimizers.adam(1e-4);
    expect(a.name).toBe('adam');
    expect(a.learningRate).toBe(1e-4);
    expect(optimizers.rmsprop(1e-5).config.learning_rate).toBe(1e-5);
    expect(optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }).config.momentum).toBe(0.9);
    expect(optimizers.adam().learningRate).toBe(0.001);
  });

  it('formatCheckpointPath fills Keras fields', () => {
    expect(formatCheckpointPath('m-{epoch:02d}-{val_loss:.2f}.st', 4, { loss: 1, val_loss: 0.12345 })).toBe('m-05-0.12.st');
    expect(formatCheckpointPath('m-{epoch}-{missing}.st', 0, { loss: 1 })).toBe('m-1-{missing}.st');
  });
});
