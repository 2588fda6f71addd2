// Keras callbacks for `Model.fit`: a history recorder (what `fit` returns), progress output, early
// stopping, model checkpoints. A callback is any object with some of the hooks; hooks may be async.
import type { WeightMap } from '../io/weight-map.js';
import type { CachePlan, EpochProgress } from '../train/fit.js';
import type { Model } from './model.js';
import { printLine } from './platform.js';

/** Metrics of one epoch, under Keras' names. */
export interface EpochLogs {
  loss: number;
  accuracy?: number;
  val_loss?: number;
  val_accuracy?: number;
  /** Wall-clock seconds of the epoch (training + validation). */
  seconds?: number;
  [name: string]: number | undefined;
}

/** Progress of one training batch. */
export interface BatchLogs {
  /** Running mean loss of the epoch so far. */
  loss: number;
  /** 1-based step and steps per epoch. */
  step: number;
  steps: number;
  /** Images seen this epoch and seconds since the epoch started. */
  images: number;
  seconds: number;
}

/** Keras `keras.callbacks.Callback`: implement any hooks. */
export interface Callback {
  onTrainBegin?(model: Model, params: { epochs: number; initialEpoch: number; steps: number }): void | Promise<void>;
  onEpochBegin?(epoch: number, model: Model): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchLogs, model: Model): void | Promise<void>;
  /** A validation batch of `fit` was evaluated (Keras `on_test_batch_end`); `logs.loss` is the running mean. */
  onTestBatchEnd?(batch: number, logs: BatchLogs, model: Model): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: EpochLogs, model: Model): void | Promise<void>;
  onTrainEnd?(model: Model, logs: EpochLogs | null): void | Promise<void>;
  /** Input/feature caches being built before the first epoch (done of total images). */
  onCacheProgress?(info: { what: 'inputs' | 'features'; split: 'train' | 'validation'; done: number; total: number }, model: Model): void | Promise<void>;
  /** Which path a cache took (cached in pages, streaming, recomputing) and why; `message` is one line for the log. */
  onCachePlan?(info: { split: 'train' | 'validation' | 'all'; plan: CachePlan; message: string }, model: Model): void | Promise<void>;
  /**
   * `model.stopTraining` was set during an epoch: training stops after the current step, and this
   * gets where the epoch stood (pass it back as `fit`'s `resumeWithin` to continue exactly there).
   */
  onInterrupt?(epoch: number, progress: EpochProgress, model: Model): void | Promise<void>;
}

/** Keras `History`: what `fit` returns; `history.history.val_accuracy` etc., `history.epoch` (0-based). */
export class History implements Callback {
  /** Epoch numbers (0-based, continuing `initialEpoch`). */
  readonly epoch: number[] = [];
  /** Metric name → one value per epoch. */
  readonly history: Record<string, number[]> = {};
  /** Set when training stopped early on a non-finite loss. */
  diverged: { epoch: number; step: number; loss: number } | null = null;
  /** Set when `model.stopTraining` ended training inside an epoch. */
  interrupted: ({ epoch: number } & EpochProgress) | null = null;

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) {
      if (v === undefined) continue;
      (this.history[k] ??= []).push(v);
    }
  }
}

/** Options of {@link progressLogger}. */
export interface ProgressOptions {
  /** Where lines go (default `console.log`). */
  print?: (line: string) => void;
  /** Also print a line every `batchEvery` training batches (default 0: epoch lines only). */
  batchEvery?: number;
}

const f4 = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(4));

/** Keras' `verbose=1/2` output: `Epoch 3/10` then `… - 12.1s - loss: … - accuracy: … - val_loss: … - val_accuracy: …`. */
export function progressLogger(opts: ProgressOptions = {}): Callback {
  const print = opts.print ?? printLine;
  let total = 0;
  return {
    onTrainBegin(_m, p) {
      total = p.epochs;
    },
    onEpochBegin(epoch) {
      print(`Epoch ${epoch + 1}/${total}`);
    },
    onBatchEnd(_b, l) {
      if (opts.batchEvery && (l.step % opts.batchEvery === 0 || l.step === l.steps)) print(`  ${l.step}/${l.steps} - ${l.seconds.toFixed(1)}s - loss: ${l.loss.toFixed(4)}`);
    },
    onEpochEnd(_e, l) {
      const parts = [`${(l.seconds ?? 0).toFixed(1)}s`, `loss: ${f4(l.loss)}`];
      if (l.accuracy !== undefined) parts.push(`accuracy: ${f4(l.accuracy)}`);
      if (l.val_loss !== undefined) parts.push(`val_loss: ${f4(l.val_loss)}`);
      if (l.val_accuracy !== undefined) parts.push(`val_accuracy: ${f4(l.val_accuracy)}`);
      print(`  ${parts.join(' - ')}`);
    },
  };
}

type Mode = 'auto' | 'min' | 'max';
const better = (monitor: string, mode: Mode) => {
  const max = mode === 'max' || (mode === 'auto' && /acc|auc|precision|recall/.test(monitor));
  return (current: number, best: number, minDelta: number) => (max ? current - minDelta > best : current + minDelta < best);
};
const worst = (monitor: string, mode: Mode) => (mode === 'max' || (mode === 'auto' && /acc|auc|precision|recall/.test(monitor)) ? -Infinity : Infinity);

/** Options of {@link EarlyStopping} (Keras names). */
export interface EarlyStoppingOptions {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: Mode;
  /** Put back the weights of the best epoch when stopping. */
  restoreBestWeights?: boolean;
  /** Epochs to wait before starting to monitor. */
  startFromEpoch?: number;
}

/** Keras `EarlyStopping`: stops `fit` when `monitor` has not improved for `patience` epochs. */
export class EarlyStopping implements Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly mode: Mode;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  private best = Infinity;
  private wait = 0;
  private bestWeights: WeightMap | null = null;
  /** Epoch at which training stopped (0 = did not stop). */
  stoppedEpoch = 0;
  /** Epoch with the best monitored value (-1 before any). */
  bestEpoch = -1;

  constructor(opts: EarlyStoppingOptions = {}) {
    this.monitor = opts.monitor ?? 'val_loss';
    this.minDelta = Math.abs(opts.minDelta ?? 0);
    this.patience = opts.patience ?? 0;
    this.mode = opts.mode ?? 'auto';
    this.restoreBestWeights = opts.restoreBestWeights ?? false;
    this.startFromEpoch = opts.startFromEpoch ?? 0;
  }

  onTrainBegin(): void {
    this.best = worst(this.monitor, this.mode);
    this.wait = 0;
    this.bestWeights = null;
    this.stoppedEpoch = 0;
    this.bestEpoch = -1;
  }

  async onEpochEnd(epoch: number, logs: EpochLogs, model: Model): Promise<void> {
    const current = logs[this.monitor];
    if (current === undefined || epoch < this.startFromEpoch) return;
    this.wait++;
    if (better(this.monitor, this.mode)(current, this.best, this.minDelta)) {
      this.best = current;
      this.bestEpoch = epoch;
      this.wait = 0;
      if (this.restoreBestWeights) this.bestWeights = await model.getWeights();
      return;
    }
    if (this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      model.stopTraining = true;
      if (this.restoreBestWeights && this.bestWeights) model.setWeights(this.bestWeights);
    }
  }
}

/** Options of {@link ModelCheckpoint} (Keras names). */
export interface ModelCheckpointOptions {
  /** Path; `{epoch}` / `{epoch:02d}` and `{val_loss:.2f}`-style fields are filled in. */
  filepath: string;
  monitor?: string;
  mode?: Mode;
  /** Save only when `monitor` improved. */
  saveBestOnly?: boolean;
}

/** Fills Keras' `{name}` / `{name:02d}` / `{name:.2f}` fields of a checkpoint path. */
export function formatCheckpointPath(path: string, epoch: number, logs: EpochLogs): string {
  return path.replace(/\{(\w+)(?::(0?)(\d*)(?:\.(\d+))?([df]))?\}/g, (m, name: string, zero: string, width: string, prec: string, type: string) => {
    const v = name === 'epoch' ? epoch + 1 : logs[name];
    if (v === undefined) return m;
    let s = type === 'f' ? v.toFixed(prec ? Number(prec) : 6) : type === 'd' ? String(Math.trunc(v)) : String(v);
    if (width) s = s.padStart(Number(width), zero ? '0' : ' ');
    return s;
  });
}

/** Keras `ModelCheckpoint`: saves the model (`model.save`) after epochs, optionally only the best. */
export class ModelCheckpoint implements Callback {
  readonly filepath: string;
  readonly monitor: string;
  readonly mode: Mode;
  readonly saveBestOnly: boolean;
  private best = Infinity;
  /** Paths written so far. */
  readonly saved: string[] = [];

  constructor(opts: ModelCheckpointOptions) {
    this.filepath = opts.filepath;
    this.monitor = opts.monitor ?? 'val_loss';
    this.mode = opts.mode ?? 'auto';
    this.saveBestOnly = opts.saveBestOnly ?? false;
    this.best = worst(this.monitor, this.mode);
  }

  async onEpochEnd(epoch: number, logs: EpochLogs, model: Model): Promise<void> {
    if (this.saveBestOnly) {
      const v = logs[this.monitor];
      if (v === undefined || !better(this.monitor, this.mode)(v, this.best, 0)) return;
      this.best = v;
    }
    const path = formatCheckpointPath(this.filepath, epoch, logs);
    await model.save(path);
    this.saved.push(path);
  }
}

/** Callback constructors under Keras' names. */
export const callbacks = {
  earlyStopping: (o?: EarlyStoppingOptions) => new EarlyStopping(o),
  modelCheckpoint: (o: ModelCheckpointOptions) => new ModelCheckpoint(o),
  progressLogger,
  history: () => new History(),
} as const;
