// The transfer-learning recipe of the Keras MobileNetV2 tutorial, once, for every shell (the CLI's
// `mnv2 train`, the browser trainer, scripts): phase 1 trains the head with the base frozen; phase 2
// (optional) sets `base.trainable = True` with the layers below `fineTuneAt` frozen and continues at a
// lower learning rate, the epoch count going on (Keras `initial_epoch=history.epoch[-1] + 1`). Each
// phase is one `model.fit` call with a fresh optimizer, an optional cosine schedule over the phase's
// steps, Keras `EarlyStopping(monitor='val_loss', patience)` whose counters reset per phase, and
// restore-best tracking. All of that lives in one JSON-able `RecipeState` (plus the optimizer's slots
// and the best weights): the caller checkpoints it (`onCheckpoint`, after every epoch and at an
// interruption) and passes it back as `resume` to continue exactly where it stopped.
import type { Optimizer } from '../ops/optim/index.js';
import { networkWeights, type CacheBudget, type EpochProgress } from '../train/fit.js';
import { cosineDecay } from '../train/schedules.js';
import { firstNonFinite } from '../io/finite.js';
import type { WeightMap } from '../io/weight-map.js';
import type { Callback, EpochLogs } from './callbacks.js';
import type { ImageDataset } from './data.js';
import type { Model } from './model.js';
import { optimizers } from './optimizers.js';

export type Phase = 'frozen' | 'fine-tune';
export type OptimizerName = keyof typeof optimizers;
/** One epoch of the run's history: epoch (1-based), loss, accuracy, val_loss, val_accuracy, seconds, fine_tune (0/1). */
export type HistoryRow = Record<string, number | null>;

/** Everything the recipe needs to continue a run, besides the weights, optimizer slots and best weights (JSON-able). */
export interface RecipeState {
  /** Completed epochs (both phases). */
  epochsDone: number;
  /** Progress inside epoch `epochsDone` after an interruption (null at an epoch boundary). */
  within: EpochProgress | null;
  /** Phase of the optimizer whose slots are checkpointed, and its step count. */
  phase: Phase;
  iterations: number;
  optimizer: OptimizerName;
  /** EarlyStopping counters of the current phase; phases that stopped early are not run again. */
  earlyStopping: { best: number | null; wait: number; stoppedPhases: Phase[] };
  /** The epoch with the lowest val_loss so far (restore-best). */
  best: { epoch: number; valLoss: number } | null;
  history: HistoryRow[];
}

/** What `onCheckpoint` receives: a consistent snapshot to store atomically. */
export interface RecipeCheckpoint {
  state: RecipeState;
  /** The network's weights (Keras names), all finite. */
  weights: WeightMap;
  /** Optimizer slots by '<param>/<slot>' name. */
  optimizerSlots: WeightMap;
  /** Weights of the best epoch when `restoreBestWeights` is on. */
  bestWeights: WeightMap | null;
}

export interface TransferLearningOptions {
  /** Epochs with the base frozen (Keras `initial_epochs`). */
  epochs: number;
  learningRate: number;
  /** Default 'adam'. */
  optimizer?: OptimizerName;
  /** Keras layer index or name of the first base layer to unfreeze; null/undefined = no fine-tuning. */
  fineTuneAt?: number | string | null;
  /** Epochs of fine-tuning (default 10 when `fineTuneAt` is given). */
  fineTuneEpochs?: number;
  /** Default learningRate / 10. */
  fineTuneLearningRate?: number;
  /** 'cosine': Keras CosineDecay over each phase's steps. Default 'constant'. */
  lrSchedule?: 'constant' | 'cosine';
  /** Keras EarlyStopping(monitor='val_loss', patience) per phase; null = off. Needs validation data. */
  earlyStoppingPatience?: number | null;
  /** Keep the weights of the epoch with the lowest val_loss (returned as `best`). Needs validation data. */
  restoreBestWeights?: boolean;
  validationData?: ImageDataset | null;
  seed?: number;
  cacheBudget?: CacheBudget;
  /** Passed to every phase's `model.fit` before the recipe's own (progress output, events). */
  callbacks?: readonly Callback[];
  /** Continue a checkpointed run; the caller has already loaded its weights into the model. */
  resume?: { state: RecipeState; optimizerSlots: Record<string, Float32Array>; bestWeights: WeightMap | null } | null;
  /** A phase starts: `unfrozen` are the base layers whose weights train, `totalEpochs` where it ends. */
  onPhase?(p: { phase: Phase; fromEpoch: number; totalEpochs: number; learningRate: number; unfrozen: string[]; trainableTensors: number }): void | Promise<void>;
  /** Store this snapshot (after every epoch, and where an interruption stopped). */
  onCheckpoint?(c: RecipeCheckpoint): void | Promise<void>;
  /** An epoch was recorded (after `callbacks`, before its checkpoint). */
  onEpoch?(row: HistoryRow, logs: EpochLogs, phase: Phase): void | Promise<void>;
  /** EarlyStopping ended a phase after this epoch (0-based). */
  onEarlyStop?(epoch: number, best: number, phase: Phase): void | Promise<void>;
  /** Checked after every step: true stops after the current step (checkpointed, outcome 'interrupted'). */
  shouldStop?(): boolean;
}

export interface TransferLearningResult {
  outcome: 'done' | 'diverged' | 'interrupted';
  /** Where the loss became non-finite or exploded. */
  diverged: { epoch: number; step: number; loss: number; phase: Phase } | null;
  history: HistoryRow[];
  /** The epoch with the lowest val_loss and its weights (with `restoreBestWeights`). */
  best: { epoch: number; valLoss: number; weights: WeightMap } | null;
  state: RecipeState;
}

/** The weights turned NaN/Inf at a checkpoint (a diverging run): nothing of it was stored. */
export class NonFiniteWeightsError extends Error {
  constructor(
    readonly epochsDone: number,
    readonly within: EpochProgress | null,
    readonly tensor: { name: string; count: number; size: number },
    readonly phase: Phase,
  ) {
    super(`the weights became non-finite at epoch ${epochsDone}${within ? `, step ${within.step}` : ''} ('${tensor.name}': ${tensor.count} NaN/Inf of ${tensor.size}): training diverged and stopped`);
    this.name = 'NonFiniteWeightsError';
  }
}

/** Runs the recipe on `model` (a `sequential` over a MobileNetV2 base); see the file comment. */
export async function transferLearning(model: Model, train: ImageDataset, o: TransferLearningOptions): Promise<TransferLearningResult> {
  const e = model.engine;
  const net = model.base.net;
  const optName = o.optimizer ?? 'adam';
  const epochs = o.epochs;
  const fineTuneAt = o.fineTuneAt ?? null;
  const fineTuneEpochs = fineTuneAt === null ? 0 : (o.fineTuneEpochs ?? 10);
  const fineTuneLr = o.fineTuneLearningRate ?? o.learningRate / 10;
  const patience = o.earlyStoppingPatience ?? null;
  const restoreBest = o.restoreBestWeights ?? false;
  const validation = o.validationData ?? null;
  if ((patience !== null || restoreBest) && !validation) throw new Error(`transferLearning: ${patience !== null ? 'early stopping' : 'restoreBestWeights'} monitors val_loss: it needs validationData`);
  if (fineTuneAt !== null) net.baseLayerIndex(fineTuneAt); // a bad layer is refused before any training
  const stepsPerEpoch = train.cardinality();

  const rs = o.resume?.state;
  const state: RecipeState = {
    epochsDone: rs?.epochsDone ?? 0,
    within: rs?.within ?? null,
    phase: rs?.phase ?? 'frozen',
    iterations: rs?.iterations ?? 0,
    optimizer: optName,
    earlyStopping: rs ? { ...rs.earlyStopping, stoppedPhases: [...rs.earlyStopping.stoppedPhases] } : { best: null, wait: 0, stoppedPhases: [] },
    best: rs?.best ?? null,
    history: rs ? [...rs.history] : [],
  };
  let best: { epoch: number; valLoss: number; weights: WeightMap } | null = rs?.best && o.resume?.bestWeights ? { ...rs.best, weights: o.resume.bestWeights } : null;
  const resumedOpt = rs ? { phase: rs.phase, iterations: rs.iterations, slots: o.resume!.optimizerSlots } : null;
  const startEpoch = state.epochsDone;
  let within = state.within;
  const es = state.earlyStopping;

  const frozenDone = () => state.history.filter((h) => !h.fine_tune).length;
  const checkpoint = async (opt: Optimizer, phase: Phase, epochsDone: number, inEpoch: EpochProgress | null) => {
    const weights = await networkWeights(net);
    // Never hand out non-finite weights (a diverging run): the last good checkpoint stays as it is.
    const bad = firstNonFinite(weights);
    if (bad) throw new NonFiniteWeightsError(epochsDone, inEpoch, bad, phase);
    const optimizerSlots: WeightMap = new Map();
    for (const [name, t] of Object.entries(opt.state())) optimizerSlots.set(name, { shape: [...t.shape], data: await t.read() });
    Object.assign(state, { epochsDone, within: inEpoch, phase, iterations: opt.iterations });
    state.best = best && { epoch: best.epoch, valLoss: best.valLoss };
    await o.onCheckpoint?.({ state: snapshotState(state), weights, optimizerSlots, bestWeights: restoreBest && best ? best.weights : null });
  };

  type Outcome = TransferLearningResult['outcome'];
  let diverged: TransferLearningResult['diverged'] = null;
  const runPhase = async (phase: Phase, from: number, to: number, learningRate: number, resumeWithin: EpochProgress | null): Promise<Outcome> => {
    // The optimizer of the phase the checkpoint was taken in gets its slots and step count back.
    const opt: Optimizer = optimizers[optName](learningRate);
    if (resumedOpt && resumedOpt.phase === phase) opt.loadState(e, resumedOpt.slots, resumedOpt.iterations);
    else Object.assign(es, { best: null, wait: 0 }); // Keras: EarlyStopping's best and wait reset at each fit
    model.compile({ optimizer: opt, loss: compiledLoss(model), metrics: ['accuracy'] });
    const phaseStart = phase === 'frozen' ? 0 : frozenDone();
    const schedule = o.lrSchedule === 'cosine' ? cosineDecay({ initialLearningRate: learningRate, decaySteps: Math.max(1, (to - phaseStart) * stepsPerEpoch) }) : undefined;
    let interrupted = false;
    const recipe: Callback = {
      onBatchEnd: (_b, _l, m) => {
        if (o.shouldStop?.()) m.stopTraining = true;
      },
      onInterrupt: async (epoch, progress) => {
        await checkpoint(opt, phase, epoch, progress);
        interrupted = true;
      },
      onEpochEnd: async (epoch, logs, m) => {
        const valLoss = logs.val_loss ?? null;
        const row: HistoryRow = { epoch: epoch + 1, loss: logs.loss, accuracy: logs.accuracy ?? NaN, val_loss: valLoss, val_accuracy: logs.val_accuracy ?? null, seconds: logs.seconds ?? null, fine_tune: phase === 'fine-tune' ? 1 : 0 };
        state.history.push(row);
        await o.onEpoch?.(row, logs, phase);
        if (restoreBest && valLoss !== null && (best === null || valLoss < best.valLoss)) best = { epoch: epoch + 1, valLoss, weights: await networkWeights(net) };
        let stopped = false;
        if (patience !== null && valLoss !== null) {
          if (es.best === null || valLoss < es.best) {
            es.best = valLoss;
            es.wait = 0;
          } else if (++es.wait >= patience) {
            stopped = true;
            es.stoppedPhases.push(phase);
          }
        }
        await checkpoint(opt, phase, epoch + 1, null);
        if (stopped) {
          await o.onEarlyStop?.(epoch, es.best!, phase);
          m.stopTraining = true;
        } else if (o.shouldStop?.()) {
          interrupted = true;
          m.stopTraining = true;
        }
      },
    };
    const h = await model.fit(train, {
      epochs: to,
      initialEpoch: from,
      validationData: validation,
      callbacks: [...(o.callbacks ?? []), recipe],
      verbose: 0,
      seed: o.seed,
      lrSchedule: schedule,
      resumeWithin: resumeWithin ?? undefined,
      cacheBudget: o.cacheBudget,
    });
    if (h.diverged) {
      diverged = { ...h.diverged, phase };
      return 'diverged';
    }
    return interrupted ? 'interrupted' : 'done';
  };

  const announce = async (phase: Phase, fromEpoch: number, totalEpochs: number, learningRate: number, unfrozen: string[]) =>
    o.onPhase?.({ phase, fromEpoch, totalEpochs, learningRate, unfrozen, trainableTensors: net.trainableParams().length });

  let outcome: Outcome = 'done';
  const frozenOver = startEpoch >= epochs || es.stoppedPhases.includes('frozen');
  if (!frozenOver || (startEpoch === 0 && epochs === 0)) {
    net.setBaseTrainable(false);
    await announce('frozen', startEpoch, epochs + fineTuneEpochs, o.learningRate, []);
    outcome = await runPhase('frozen', startEpoch, epochs, o.learningRate, within);
    within = null;
  }
  if (outcome === 'done' && fineTuneAt !== null && fineTuneEpochs > 0 && !es.stoppedPhases.includes('fine-tune')) {
    const from = frozenDone();
    const total = from + fineTuneEpochs;
    if (startEpoch < total) {
      // Keras: base.trainable = True; for layer in base.layers[:fine_tune_at]: layer.trainable = False
      const unfrozen = net.setBaseTrainable(fineTuneAt);
      await announce('fine-tune', Math.max(from, startEpoch), total, fineTuneLr, unfrozen);
      outcome = await runPhase('fine-tune', Math.max(from, startEpoch), total, fineTuneLr, startEpoch >= from ? within : null);
    }
  }
  return { outcome, diverged, history: state.history, best, state: snapshotState(state) };
}

/** A detached copy of the state as it would be stored (JSON: NaN/Infinity become null). */
function snapshotState(s: RecipeState): RecipeState {
  return JSON.parse(JSON.stringify(s)) as RecipeState;
}

/** The loss `model` was compiled with (the recipe recompiles each phase with a fresh optimizer). */
function compiledLoss(model: Model) {
  const l = model.loss;
  if (!l) throw new Error('transferLearning: compile the model first (model.compile({ optimizer, loss })): the recipe keeps its loss and replaces the optimizer per phase');
  return l;
}
