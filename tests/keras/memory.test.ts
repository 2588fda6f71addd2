// No GPU memory growth across repeated fit calls: the buffer pool's live count (buffers handed out
// and not released) after each of several fit calls (feature-cache path, augmented path, a
// fine-tuning path) is the same, and disposing the model and datasets returns it to the baseline.
import { describe, it, expect, beforeAll } from 'vitest';
import { MobileNetV2, adam, layers, losses, rmsprop, sequential, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { patternDataset } from './synthetic.js';

describe(`${GPU} keras API: memory`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
    // Warm-up: engine-level caches made once per engine (epilogue.ts keeps a dummy bias tensor per
    // engine) are not per-model memory; create them before taking baselines.
    const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], weights: null, engine: e });
    const m = sequential([layers.preprocessInput(), base, layers.globalAveragePooling2d(), layers.dense(1)]);
    m.compile({ optimizer: adam(), loss: losses.binaryCrossentropy({ fromLogits: true }) });
    const d = patternDataset(4, 2);
    await m.fit(d, { epochs: 1, verbose: 0 });
    m.dispose();
    d.dispose();
  });

  it('repeated fit/evaluate/predict calls do not grow live GPU buffers; dispose frees everything', async () => {
    await e.sync();
    const baseline = e.pool.liveCount;
    const train = patternDataset(16, 2, { seed: 1 });
    const val = patternDataset(8, 2, { seed: 2 });
    const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], weights: null, engine: e });
    const afterBase = e.pool.liveCount;
    expect(afterBase).toBeGreaterThan(baseline);

    const model = sequential([layers.randomFlip('horizontal'), layers.randomRotation(0.1), layers.preprocessInput(), base, layers.globalAveragePooling2d(), layers.dropout(0.2), layers.dense(1)]);
    base.trainable = false;
    model.compile({ optimizer: adam({ learningRate: 1e-3 }), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });

    const live: number[] = [];
    const round = async (epochs: number, featureCache: boolean) => {
      const h = await model.fit(train, { epochs, validationData: val, verbose: 0, featureCache });
      expect(h.history.loss.every(Number.isFinite)).toBe(true);
      await model.evaluate(val);
      await model.predict(val);
      await e.sync();
      live.push(e.pool.liveCount);
    };
    // Augmented (per-step base forward), three times: the count after the first call is the steady state
    // (optimizer slots and input caches are made on first use).
    for (let i = 0; i < 3; i++) await round(1, true);
    expect(live[1]).toBe(live[0]);
    expect(live[2]).toBe(live[0]);

    // Fine-tuning the top of the base with a new optimizer: the old optimizer's slots are freed at compile.
    base.net.setBaseTrainable(-10);
    model.compile({ optimizer: rmsprop({ learningRate: 1e-4 }), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    await e.sync();
    const compiled = e.pool.liveCount;
    expect(compiled).toBeLessThan(live[2]); // Adam's slots (head) released
    live.length = 0;
    for (let i = 0; i < 3; i++) await round(1, true);
    expect(live[1]).toBe(live[0]);
    expect(live[2]).toBe(live[0]);

    model.dispose();
    train.dispose();
    val.dispose();
    await e.sync();
    expect(e.pool.liveCount).toBe(baseline);
  });

  it('the feature-cache path (frozen base, no augmentation) frees its feature tensors after every fit; `using` frees the model and data', async () => {
    await e.sync();
    const baseline = e.pool.liveCount;
    {
      using train = patternDataset(16, 2, { seed: 5 });
      const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], weights: null, engine: e });
      base.trainable = false;
      using model = sequential([layers.preprocessInput(), base, layers.globalAveragePooling2d(), layers.dense(128, 'relu'), layers.dense(2)]);
      model.compile({ optimizer: adam(), loss: losses.sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
      const live: number[] = [];
      for (let i = 0; i < 3; i++) {
        await model.fit(train, { epochs: 2, verbose: 0 });
        await e.sync();
        live.push(e.pool.liveCount);
      }
      expect(new Set(live).size).toBe(1);
    }
    await e.sync();
    expect(e.pool.liveCount).toBe(baseline);
  });
});
