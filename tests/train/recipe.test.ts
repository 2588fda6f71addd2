// Issue 13 (one place for the training recipe): core's `transferLearning` runs the tutorial's
// frozen → fine-tune phases with early stopping and restore-best, and everything it needs to go on
// is a JSON state + weights + optimizer slots + best weights. A run stopped twice (mid-epoch in the
// frozen phase, mid-epoch while fine-tuning), each time rebuilt from nothing but its last
// checkpoint, must end with the uninterrupted run's weights, history and best epoch.
import { describe, it, beforeAll, expect } from 'vitest';
import {
  MobileNetV2,
  layers,
  losses,
  optimizers,
  sequential,
  transferLearning,
  type Engine,
  type ImageDataset,
  type Model,
  type RecipeCheckpoint,
  type TransferLearningOptions,
  type WeightMap,
} from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { patternDataset } from '../keras/synthetic.js';

async function freshModel(e: Engine): Promise<Model> {
  const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], alpha: 0.35, weights: null, engine: e, seed: 5 });
  const model = sequential([layers.randomFlip('horizontal'), layers.preprocessInput(), base, layers.globalAveragePooling2d(), layers.dropout(0.2), layers.dense(1)], { seed: 3 });
  model.compile({ optimizer: optimizers.adam(1e-3), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  return model;
}

async function weightsOf(model: Model): Promise<Map<string, Float32Array>> {
  const m = new Map<string, Float32Array>();
  for (const p of model.base.net.params()) m.set(p.name, await p.value.read());
  return m;
}

const copyMap = (w: WeightMap): WeightMap => new Map([...w].map(([k, v]) => [k, { shape: [...v.shape], data: v.data.slice() }]));

describe(`${GPU} transferLearning recipe (core)`, () => {
  let e: Engine;
  let train: ImageDataset;
  let val: ImageDataset;
  beforeAll(async () => {
    e = await gpuEngine();
    train = patternDataset(24, 2, { batchSize: 8, seed: 1 }); // 3 steps per epoch
    val = patternDataset(8, 2, { batchSize: 8, seed: 2 });
  });

  const opts = (): TransferLearningOptions => ({
    epochs: 2,
    learningRate: 1e-3,
    fineTuneAt: 120,
    fineTuneEpochs: 2,
    earlyStoppingPatience: 3,
    restoreBestWeights: true,
    validationData: val,
    seed: 42,
    lrSchedule: 'cosine',
  });

  it('a run stopped mid-epoch twice and rebuilt from its checkpoints ends with the uninterrupted weights, history and best epoch', async () => {
    // Uninterrupted.
    const ref = await freshModel(e);
    const phases: string[] = [];
    let refCheckpoints = 0;
    const a = await transferLearning(ref, train, { ...opts(), onPhase: (p) => void phases.push(`${p.phase}@${p.fromEpoch}/${p.totalEpochs}`), onCheckpoint: () => void refCheckpoints++ });
    expect(a.outcome).toBe('done');
    expect(phases).toEqual(['frozen@0/4', 'fine-tune@2/4']);
    expect(refCheckpoints).toBe(4); // one per epoch
    expect(a.history.map((h) => [h.epoch, h.fine_tune])).toEqual([
      [1, 0],
      [2, 0],
      [3, 1],
      [4, 1],
    ]);
    expect(a.best).not.toBeNull();
    const want = await weightsOf(ref);
    ref.dispose();

    // Stopped after global steps 2 (epoch 1, frozen) and 8 (epoch 3, fine-tuning); each resume starts
    // from a new model holding only the last checkpoint's weights.
    const box: { last: RecipeCheckpoint | null } = { last: null }; // assigned in a callback
    let r = { outcome: 'interrupted' as string };
    let steps = 0;
    const stopAt = new Set([2, 8]);
    let runs = 0;
    let m: Model | null = null;
    while (r.outcome === 'interrupted') {
      runs++;
      m?.dispose();
      m = await freshModel(e);
      const cp = box.last;
      if (cp) {
        for (const p of m.base.net.params()) e.write(p.value, cp.weights.get(p.name)!.data);
      }
      const resume = cp ? { state: JSON.parse(JSON.stringify(cp.state)), optimizerSlots: Object.fromEntries([...cp.optimizerSlots].map(([k, v]) => [k, v.data])), bestWeights: cp.bestWeights } : null;
      let stopNow = false;
      r = await transferLearning(m, train, {
        ...opts(),
        resume,
        callbacks: [
          {
            onBatchEnd: () => {
              stopNow = stopAt.has(++steps);
            },
          },
        ],
        shouldStop: () => stopNow,
        onCheckpoint: (c) => {
          box.last = { state: c.state, weights: copyMap(c.weights), optimizerSlots: copyMap(c.optimizerSlots), bestWeights: c.bestWeights && copyMap(c.bestWeights) };
        },
      });
      if (r.outcome === 'interrupted') {
        const st = box.last!.state;
        expect(st.within).not.toBeNull(); // stopped inside an epoch, not at its end
        if (runs === 1) expect([st.phase, st.epochsDone, st.within!.step]).toEqual(['frozen', 0, 2]);
        if (runs === 2) expect([st.phase, st.epochsDone, st.within!.step]).toEqual(['fine-tune', 2, 2]);
      }
      expect(runs).toBeLessThan(4);
    }
    expect(runs).toBe(3);
    expect(r.outcome).toBe('done');
    const got = await weightsOf(m!);
    let maxDiff = 0;
    for (const [k, v] of want) {
      const g = got.get(k)!;
      for (let i = 0; i < v.length; i++) maxDiff = Math.max(maxDiff, Math.abs(v[i] - g[i]));
    }
    expect(maxDiff).toBeLessThan(1e-5);
    const final = r as unknown as Awaited<ReturnType<typeof transferLearning>>;
    expect(final.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++) {
      expect(final.history[i].loss).toBeCloseTo(a.history[i].loss!, 4);
      expect(final.history[i].val_loss).toBeCloseTo(a.history[i].val_loss!, 4);
    }
    expect(final.best!.epoch).toBe(a.best!.epoch);
    m!.dispose();
  });

  it('early stopping ends a phase and is remembered: the fine-tune phase still runs, and a bad fineTuneAt is refused before training', async () => {
    const m = await freshModel(e);
    try {
      const stops: string[] = [];
      // SGD at learning rate 0: val_loss repeats exactly, so patience 1 stops each phase after its second epoch.
      const r = await transferLearning(m, train, { ...opts(), epochs: 6, fineTuneEpochs: 6, optimizer: 'sgd', learningRate: 0, lrSchedule: 'constant', earlyStoppingPatience: 1, onEarlyStop: (ep, _b, ph) => void stops.push(`${ph}@${ep}`) });
      expect(r.outcome).toBe('done');
      expect(r.state.earlyStopping.stoppedPhases).toEqual(['frozen', 'fine-tune']);
      expect(stops).toEqual(['frozen@1', 'fine-tune@3']); // 0-based epochs: the count goes on after the early stop
      expect(r.history.map((h) => [h.epoch, h.fine_tune])).toEqual([
        [1, 0],
        [2, 0],
        [3, 1],
        [4, 1],
      ]);
      await expect(transferLearning(m, train, { ...opts(), fineTuneAt: 999 })).rejects.toThrow(/layer index must be an integer in \[-154, 154\]/);
    } finally {
      m.dispose();
    }
  });
});
