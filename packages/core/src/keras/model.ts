/// <reference lib="esnext.disposable" />
// The Keras `Sequential` model of the MobileNetV2 transfer-learning tutorials, mapped onto
// MobileNetV2Net + Head + fit(): [input] → [randomFlip] [randomRotation] → preprocessInput →
// base (BatchNorm always in inference mode, Keras `base(x, training=False)`) → global pooling →
// [dropout] → [dense(n, relu)] → dense(k). Other orders are rejected with the supported form.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { Head } from '../nn/head.js';
import { formatSummary, countParams, type KerasLayer, type KerasLayerType, type ParamCounts } from '../nn/keras-layers.js';
import { accuracy } from '../ops/loss/index.js';
import { adam, rmsprop, sgd, type Optimizer } from '../ops/optim/index.js';
import { fit as fitLoop, networkWeights, type CacheBudget, type EpochProgress, type FitImage, type FitEvent } from '../train/fit.js';
import type { LearningRateSchedule } from '../train/schedules.js';
import { lossAndGrad, type LossKind } from '../train/step.js';
import { prepareImages } from '../model/classifier.js';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import type { WeightMap } from '../io/weight-map.js';
import { MobileNetV2 } from './base.js';
import type { LayerSpec, DenseSpec, DenseActivation } from './layers.js';
import type { Loss } from './losses.js';
import { History, progressLogger, type Callback, type EpochLogs } from './callbacks.js';
import type { ImageDataset } from './data.js';
import { getDefaultEngine, need, printLine } from './platform.js';

/** A layer of a {@link sequential} model: a layer descriptor or the MobileNetV2 base. */
export type ModelLayer = LayerSpec | MobileNetV2;

/** Options of {@link sequential}. */
export interface SequentialOptions {
  /** Model name (default 'sequential'). */
  name?: string;
  /** Seed of the head's initialisation, dropout and augmentation draws (default 42). */
  seed?: number;
}

/** Arguments of {@link Model.compile} (Keras names). */
export interface CompileArgs {
  /** e.g. `adam({ learningRate: 1e-4 })`, `rmsprop({ learningRate: 1e-5 })`. The model owns it from now on. */
  optimizer: Optimizer;
  loss: Loss;
  /** `['accuracy']` or `[]`. */
  metrics?: readonly ('accuracy' | 'acc')[];
}

/** Arguments of {@link Model.fit} (Keras names). */
export interface FitArgs {
  /** Index of the epoch to stop before (Keras `epochs`), default 1. */
  epochs?: number;
  /** Epoch to start at (Keras `initial_epoch`), default 0. */
  initialEpoch?: number;
  validationData?: ImageDataset | null;
  callbacks?: readonly Callback[];
  /** 0 = silent, 1 or 2 = one line per epoch (default 1). */
  verbose?: 0 | 1 | 2;
  /** Shuffle/augmentation/dropout seed (default: the model's seed). */
  seed?: number;
  /** Train the head on cached base features when the base is frozen and no augmentation layer is present (default true). */
  featureCache?: boolean;
  /** Sets the learning rate before each step from the optimizer's step count (e.g. `cosineDecay`). */
  lrSchedule?: LearningRateSchedule;
  /** Continue `initialEpoch` where an interrupted `fit` stopped (see `Callback.onInterrupt`). */
  resumeWithin?: EpochProgress;
  /** Byte budget shared by the feature caches of this fit (and, when the datasets were made with it, their input caches). */
  cacheBudget?: CacheBudget;
}

/** What {@link Model.evaluate} returns (Keras returns `[loss, accuracy]`). */
export interface EvaluateResult {
  loss: number;
  accuracy: number;
  /** Samples evaluated (undecodable images are skipped). */
  samples: number;
}

interface Plan {
  input: number | null;
  flip: boolean;
  rotation: number;
  baseIndex: number;
  pooling: 'avg' | 'max';
  dropout: number;
  hidden: DenseSpec | null;
  out: DenseSpec;
}

const SUPPORTED = '[inputLayer] → [randomFlip] [randomRotation] → preprocessInput → MobileNetV2 base → globalAveragePooling2d|globalMaxPooling2d → [dropout] → [dense(n, relu)] → dense(k)';

const describe = (l: ModelLayer) => (l instanceof MobileNetV2 ? `MobileNetV2 base '${l.name}'` : l.kind);

function plan(list: readonly ModelLayer[]): Plan {
  const fail = (msg: string): never => {
    throw new Error(`sequential: ${msg}. Supported layer order: ${SUPPORTED}. Got: ${list.map(describe).join(' → ')}`);
  };
  let i = 0;
  const at = () => list[i];
  let input: number | null = null;
  const a = at();
  if (a && !(a instanceof MobileNetV2) && a.kind === 'InputLayer') {
    input = a.shape[0];
    i++;
  }
  let flip = false;
  let rotation = 0;
  for (;;) {
    const l = at();
    if (!l || l instanceof MobileNetV2) break;
    if (l.kind === 'RandomFlip') {
      if (flip) fail('randomFlip appears twice');
      flip = true;
    } else if (l.kind === 'RandomRotation') {
      if (rotation) fail('randomRotation appears twice');
      rotation = l.factor;
    } else break;
    i++;
  }
  const pre = at();
  if (!pre || pre instanceof MobileNetV2 || pre.kind !== 'PreprocessInput') {
    fail(pre instanceof MobileNetV2 ? 'preprocessInput() must come before the base (the MobileNetV2 weights expect inputs in [-1, 1])' : `expected preprocessInput() at position ${i}`);
  }
  i++;
  const base = at();
  if (!(base instanceof MobileNetV2)) return fail(`expected the MobileNetV2 base at position ${i}`);
  const baseIndex = i++;
  if (input !== null && input !== base.inputShape[0]) fail(`inputLayer size ${input} differs from the base's inputShape ${base.inputShape[0]}`);
  const pool = at();
  if (!pool || pool instanceof MobileNetV2 || (pool.kind !== 'GlobalAveragePooling2D' && pool.kind !== 'GlobalMaxPooling2D')) return fail(`expected global pooling after the base at position ${i}`);
  i++;
  let dropout = 0;
  const d = at();
  if (d && !(d instanceof MobileNetV2) && d.kind === 'Dropout') {
    dropout = d.rate;
    i++;
  }
  const denses: DenseSpec[] = [];
  while (i < list.length) {
    const l = at();
    if (l instanceof MobileNetV2 || l.kind !== 'Dense') return fail(`${describe(l)} at position ${i} is not supported there`);
    denses.push(l);
    i++;
  }
  if (denses.length === 0) fail('the model must end with a dense layer');
  if (denses.length > 2) fail('at most two dense layers (a hidden relu layer and the output)');
  const hidden = denses.length === 2 ? denses[0] : null;
  if (hidden && hidden.activation !== 'relu') fail(`the hidden dense layer must use activation 'relu', got '${hidden.activation}'`);
  const out = denses[denses.length - 1];
  if (out.activation === 'relu') fail("the output dense layer cannot use 'relu' (use linear logits, sigmoid or softmax)");
  return { input, flip, rotation, baseIndex, pooling: pool.kind === 'GlobalMaxPooling2D' ? 'max' : 'avg', dropout, hidden, out };
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Keras-shaped model over a MobileNetV2 base with a trainable head. Create it with {@link sequential}. */
export class Model {
  readonly name: string;
  /** The layers as given to {@link sequential}. */
  readonly layers: readonly ModelLayer[];
  /** The MobileNetV2 base (owned by this model). */
  readonly base: MobileNetV2;
  /** The head (pooling → dropout → dense layers). */
  readonly head: Head;
  readonly engine: Engine;
  readonly seed: number;
  /** Set to true (e.g. by a callback) to end `fit` after the current epoch. Reset at each `fit`. */
  stopTraining = false;
  private readonly plan: Plan;
  private compiled: { optimizer: Optimizer; loss: Loss; lossKind: LossKind; metrics: readonly string[] } | null = null;
  private disposed = false;

  /** Use {@link sequential}. @internal */
  constructor(list: readonly ModelLayer[], opts: SequentialOptions = {}) {
    this.plan = plan(list);
    this.layers = [...list];
    this.name = opts.name ?? 'sequential';
    this.seed = opts.seed ?? 42;
    this.base = list[this.plan.baseIndex] as MobileNetV2;
    if (this.base.isDisposed) throw new Error('sequential: the base was disposed');
    if (this.base.owner) throw new Error(`sequential: the base '${this.base.name}' already belongs to a model (make one base per model)`);
    this.engine = this.base.engine;
    const { hidden, out } = this.plan;
    this.head = new Head(
      this.engine,
      {
        inChannels: this.base.net.arch.lastChannels,
        classes: out.units,
        pooling: this.plan.pooling,
        dropout: this.plan.dropout,
        hidden: hidden?.units,
        hiddenName: hidden ? (hidden.name ?? 'dense') : undefined,
        denseName: out.name ?? (hidden ? 'dense_1' : 'dense'),
        poolName: this.plan.pooling === 'max' ? 'global_max_pooling2d' : 'global_average_pooling2d',
      },
      this.seed + 7,
    );
    // MobileNetV2Net takes its head at construction; the base was built headless, so attach it here.
    this.base.net.attachHead(this.head);
    this.base.owner = this;
  }

  private check(): void {
    if (this.disposed) throw new Error(`model '${this.name}' was disposed`);
  }

  /** Input size (square). */
  get inputSize(): number {
    return this.base.inputShape[0];
  }

  /** Keras `model.compile(optimizer, loss, metrics)`. A previous optimizer is disposed (its slots freed). */
  compile(args: CompileArgs): void {
    this.check();
    const out = this.plan.out;
    const loss = args.loss;
    let lossKind: LossKind;
    if (loss.kind === 'BinaryCrossentropy') {
      if (out.units !== 1) throw new Error(`compile: binaryCrossentropy needs a dense(1) output, the model ends with dense(${out.units}) (use sparseCategoricalCrossentropy for ${out.units} classes)`);
      lossKind = 'binary';
      this.checkActivation(loss.fromLogits, 'sigmoid', 'binaryCrossentropy');
    } else {
      if (out.units < 2) throw new Error('compile: sparseCategoricalCrossentropy needs dense(k) with k >= 2 outputs (use binaryCrossentropy with dense(1))');
      lossKind = 'sparse-categorical';
      this.checkActivation(loss.fromLogits, 'softmax', 'sparseCategoricalCrossentropy');
    }
    const metrics = args.metrics ?? [];
    for (const m of metrics) if (m !== 'accuracy' && m !== 'acc') throw new Error(`compile: metric '${String(m)}' is not supported (only 'accuracy')`);
    if (this.compiled && this.compiled.optimizer !== args.optimizer) this.compiled.optimizer.dispose();
    this.compiled = { optimizer: args.optimizer, loss, lossKind, metrics };
  }

  private checkActivation(fromLogits: boolean, act: DenseActivation, lossName: string): void {
    const a = this.plan.out.activation;
    if (fromLogits && a !== 'linear') throw new Error(`compile: ${lossName}({ fromLogits: true }) expects a linear output layer, but it has activation '${a}' (drop the activation or use fromLogits: false)`);
    if (!fromLogits && a !== act) throw new Error(`compile: ${lossName}({ fromLogits: false }) expects the output layer to have activation '${act}' (got '${a}'); or use fromLogits: true with a linear output`);
  }

  /** The compiled loss (null before compile). */
  get loss(): Loss | null {
    return this.compiled?.loss ?? null;
  }

  /** The compiled optimizer (null before compile). */
  get optimizer(): Optimizer | null {
    return this.compiled?.optimizer ?? null;
  }

  private checkLabels(ds: ImageDataset, kind: LossKind, what: string): void {
    const labels = ds.source.labels;
    let max = 0;
    for (const l of labels) max = Math.max(max, l);
    if (kind === 'binary' && max > 1) throw new Error(`${what}: binaryCrossentropy needs 2 classes (labels 0/1) but the dataset has label ${max}${ds.classNames.length ? ` (${ds.classNames.length} classes)` : ''}`);
    if (kind === 'sparse-categorical' && max >= this.plan.out.units) throw new Error(`${what}: the dataset has label ${max} but the model has ${this.plan.out.units} outputs`);
  }

  /**
   * Keras `model.fit(x, epochs, initial_epoch, validation_data, callbacks)`. Returns the epochs'
   * metrics as a {@link History}. Stops early on a non-finite loss (`history.diverged`) or when a
   * callback sets `model.stopTraining`.
   */
  async fit(x: ImageDataset, args: FitArgs = {}): Promise<History> {
    this.check();
    if (!this.compiled) throw new Error('fit: call model.compile({ optimizer, loss, metrics }) first');
    const c = this.compiled;
    const e = this.engine;
    const S = this.inputSize;
    this.checkLabels(x, c.lossKind, 'fit');
    if (args.validationData) this.checkLabels(args.validationData, c.lossKind, 'fit (validationData)');
    const epochs = args.epochs ?? 1;
    const initialEpoch = args.initialEpoch ?? 0;
    const history = new History();
    const cbs: Callback[] = [history, ...((args.verbose ?? 1) > 0 ? [progressLogger()] : []), ...(args.callbacks ?? [])];
    const withAcc = c.metrics.length > 0;
    this.stopTraining = false;
    for (const cb of cbs) await cb.onTrainBegin?.(this, { epochs, initialEpoch, steps: x.cardinality() });
    const p = this.plan;
    const stream = fitLoop(
      e,
      this.base.net,
      { train: x.batchesFor(e, S), validation: args.validationData ? args.validationData.batchesFor(e, S) : null },
      {
        epochs,
        initialEpoch,
        batchSize: x.batchSize,
        loss: c.lossKind,
        optimizer: c.optimizer,
        seed: args.seed ?? this.seed,
        augment: p.flip || p.rotation ? { flip: p.flip, rotation: p.rotation } : null,
        featureCache: args.featureCache ?? true,
        lrSchedule: args.lrSchedule,
        resumeWithin: args.resumeWithin,
        cacheBudget: args.cacheBudget,
        prefetch: x.prefetchBatches,
        shouldStop: () => this.stopTraining, // Keras 3 also ends an epoch early on stop_training
      },
    );
    let current = -1;
    let last: EpochLogs | null = null;
    for await (const ev of stream as AsyncGenerator<FitEvent>) {
      if (ev.type === 'cache') {
        for (const cb of cbs) await cb.onCacheProgress?.({ what: ev.what, split: ev.split, done: ev.done, total: ev.total }, this);
      } else if (ev.type === 'plan') {
        for (const cb of cbs) await cb.onCachePlan?.({ split: ev.split, plan: ev.plan, message: ev.message }, this);
      } else if (ev.type === 'interrupted') {
        const progress = { step: ev.step, lossSum: ev.lossSum, correct: ev.correct, seen: ev.seen };
        history.interrupted = { epoch: ev.epoch, ...progress };
        for (const cb of cbs) await cb.onInterrupt?.(ev.epoch, progress, this);
        break;
      } else if (ev.type === 'batch' && ev.phase === 'train') {
        if (ev.epoch !== current) {
          current = ev.epoch;
          for (const cb of cbs) await cb.onEpochBegin?.(ev.epoch, this);
        }
        for (const cb of cbs) await cb.onBatchEnd?.(ev.step - 1, { loss: ev.loss, step: ev.step, steps: ev.steps, images: ev.images, seconds: ev.seconds }, this);
      } else if (ev.type === 'batch') {
        for (const cb of cbs) await cb.onTestBatchEnd?.(ev.step - 1, { loss: ev.loss, step: ev.step, steps: ev.steps, images: ev.images, seconds: ev.seconds }, this);
      } else if (ev.type === 'diverged') {
        history.diverged = { epoch: ev.epoch, step: ev.step, loss: ev.loss };
        if ((args.verbose ?? 1) > 0) printLine(`fit: the loss became ${ev.loss} at epoch ${ev.epoch + 1}, step ${ev.step + 1}: training stopped (try a lower learning rate)`);
        break;
      } else if (ev.type === 'epoch') {
        const logs: EpochLogs = { loss: ev.loss };
        if (withAcc) logs.accuracy = ev.accuracy;
        if (ev.valLoss !== null) logs.val_loss = ev.valLoss;
        if (withAcc && ev.valAccuracy !== null) logs.val_accuracy = ev.valAccuracy;
        logs.seconds = ev.seconds;
        last = logs;
        for (const cb of cbs) await cb.onEpochEnd?.(ev.epoch, logs, this);
        if (this.stopTraining) break;
      }
    }
    for (const cb of cbs) await cb.onTrainEnd?.(this, last);
    return history;
  }

  /** Keras `model.evaluate(ds)`: mean loss and accuracy over the dataset (inference mode). */
  async evaluate(ds: ImageDataset): Promise<EvaluateResult> {
    this.check();
    if (!this.compiled) throw new Error('evaluate: call model.compile({ optimizer, loss, metrics }) first (it defines the loss)');
    const kind = this.compiled.lossKind;
    this.checkLabels(ds, kind, 'evaluate');
    const e = this.engine;
    const b = ds.batchesFor(e, this.inputSize);
    for await (const _ of b.fill()); // eslint-disable-line @typescript-eslint/no-unused-vars
    const ids = b.usable();
    let lossSum = 0;
    let correct = 0;
    let n = 0;
    // Streaming (the dataset is over its cache budget): decode the next batch while the GPU runs this one.
    let pre = b.prefetch(ids.slice(0, ds.batchSize));
    for (let a = 0; a < ids.length; a += ds.batchSize) {
      e.batches.begin(Math.min(ds.batchSize, ids.length - a));
      const batch = await b.batch(ids.slice(a, a + ds.batchSize), pre);
      pre = a + ds.batchSize < ids.length ? b.prefetch(ids.slice(a + ds.batchSize, a + 2 * ds.batchSize)) : null;
      e.batches.shrunk(batch.labels.length);
      if (batch.labels.length === 0) {
        batch.x.dispose();
        continue;
      }
      const y = kind === 'binary' ? e.upload(Float32Array.from(batch.labels), [batch.labels.length], 'f32') : e.upload(Int32Array.from(batch.labels), [batch.labels.length], 'i32');
      const r = e.tidy(() => {
        const logits = this.base.net.forward(e, batch.x, { training: false });
        const { loss } = lossAndGrad(e, kind, logits, y);
        return { loss, correct: accuracy(e, logits, y) };
      });
      lossSum += (await r.loss.read())[0] * batch.labels.length;
      correct += (await r.correct.read())[0];
      n += batch.labels.length;
      r.loss.dispose();
      r.correct.dispose();
      batch.x.dispose();
      y.dispose();
    }
    e.batches.end();
    return { loss: n ? lossSum / n : NaN, accuracy: n ? correct / n : NaN, samples: n };
  }

  private async outputs(x: Tensor): Promise<number[][]> {
    const e = this.engine;
    const logits = e.tidy(() => this.base.net.forward(e, x, { training: false }));
    const [n, k] = logits.shape;
    const v = await logits.read();
    logits.dispose();
    const act = this.plan.out.activation;
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) {
      const r = Array.from(v.subarray(i * k, (i + 1) * k));
      if (act === 'sigmoid') rows.push(r.map(sigmoid));
      else if (act === 'softmax') {
        const m = Math.max(...r);
        const ex = r.map((z) => Math.exp(z - m));
        const s = ex.reduce((p, q) => p + q, 0);
        rows.push(ex.map((z) => z / s));
      } else rows.push(r);
    }
    return rows;
  }

  /**
   * Keras `model.predict(x)`: one output row per image (logits for a linear output, probabilities for
   * sigmoid/softmax), in inference mode. `x` is a dataset (undecodable images are skipped) or decoded
   * RGB images of any size (resized like the training data).
   */
  async predict(x: ImageDataset | readonly FitImage[], opts: { batchSize?: number } = {}): Promise<number[][]> {
    this.check();
    const e = this.engine;
    const S = this.inputSize;
    const rows: number[][] = [];
    if (Array.isArray(x)) {
      const images = x as readonly FitImage[];
      const bs = opts.batchSize ?? 32;
      for (let a = 0; a < images.length; a += bs) {
        e.batches.begin(Math.min(bs, images.length - a));
        const t = prepareImages(e, images.slice(a, a + bs), { size: S });
        rows.push(...(await this.outputs(t)));
        t.dispose();
      }
      e.batches.end();
      return rows;
    }
    const ds = x as ImageDataset;
    const b = ds.batchesFor(e, S);
    for await (const _ of b.fill()); // eslint-disable-line @typescript-eslint/no-unused-vars
    const ids = b.usable();
    const bs = opts.batchSize ?? ds.batchSize;
    let pre = b.prefetch(ids.slice(0, bs));
    for (let a = 0; a < ids.length; a += bs) {
      e.batches.begin(Math.min(bs, ids.length - a));
      const batch = await b.batch(ids.slice(a, a + bs), pre);
      pre = a + bs < ids.length ? b.prefetch(ids.slice(a + bs, a + 2 * bs)) : null;
      e.batches.shrunk(batch.labels.length);
      if (batch.labels.length) rows.push(...(await this.outputs(batch.x)));
      batch.x.dispose();
    }
    e.batches.end();
    return rows;
  }

  /** The model's Keras layer list (summary rows): the base as one 'Functional' row. */
  kerasLayers(): KerasLayer[] {
    const rows: KerasLayer[] = [];
    const S = this.inputSize;
    const add = (name: string, type: string, outputShape: (number | null)[], weights: KerasLayer['weights'] = []) => rows.push({ index: rows.length, name, type: type as KerasLayerType, outputShape, weights });
    const img = [null, S, S, 3];
    const baseLayers = this.base.kerasLayers();
    const C = this.base.net.arch.lastChannels;
    const counts: Record<string, number> = {};
    const auto = (n: string) => {
      const k = counts[n] ?? 0;
      counts[n] = k + 1;
      return k ? `${n}_${k}` : n;
    };
    for (const l of this.layers) {
      if (l instanceof MobileNetV2) add(l.name, 'Functional', baseLayers[baseLayers.length - 1].outputShape, baseLayers.flatMap((x) => x.weights));
      else if (l.kind === 'InputLayer') add(l.name ?? auto('input_layer'), 'InputLayer', img);
      else if (l.kind === 'RandomFlip') add(l.name ?? auto('random_flip'), 'RandomFlip', img);
      else if (l.kind === 'RandomRotation') add(l.name ?? auto('random_rotation'), 'RandomRotation', img);
      else if (l.kind === 'PreprocessInput') add(l.name ?? auto('preprocess_input'), 'Rescaling', img);
      else if (l.kind === 'GlobalAveragePooling2D') add(l.name ?? auto('global_average_pooling2d'), 'GlobalAveragePooling2D', [null, C]);
      else if (l.kind === 'GlobalMaxPooling2D') add(l.name ?? auto('global_max_pooling2d'), 'GlobalMaxPooling2D', [null, C]);
      else if (l.kind === 'Dropout') add(l.name ?? auto('dropout'), 'Dropout', [null, C]);
    }
    for (const d of this.head.layers) {
      const name = d.w.layer;
      const [i, o] = d.w.value.shape;
      add(name, 'Dense', [null, o], [
        { name: d.w.name, shape: [i, o], trainable: d.w.trainable },
        { name: d.b.name, shape: [o], trainable: d.b.trainable },
      ]);
    }
    return rows;
  }

  /** Keras totals (total / trainable / non-trainable parameters) from the layer list and flags. */
  countParams(): ParamCounts {
    return countParams(this.kerasLayers());
  }

  /** Values the optimizer would update now, counted from the network's own parameters. */
  trainableParamCount(): number {
    return this.base.net.trainableParams().reduce((s, p) => s + p.value.size, 0);
  }

  /** Keras `model.summary()` text (print it with console.log). */
  summary(): string {
    return formatSummary(this.name, this.kerasLayers());
  }

  /** Every weight by Keras name with Keras shapes, read back from the GPU (Keras `get_weights`). */
  async getWeights(): Promise<WeightMap> {
    this.check();
    return networkWeights(this.base.net);
  }

  /** Writes weights by Keras name (every parameter of the model must be present; Keras `set_weights`). */
  setWeights(weights: WeightMap): void {
    this.check();
    for (const p of this.base.net.params()) {
      const w = weights.get(p.name);
      if (!w) throw new Error(`setWeights: no weight named '${p.name}'`);
      if (w.data.length !== p.value.size) throw new Error(`setWeights: '${p.name}' has ${w.data.length} values, the model needs ${p.value.size} [${p.value.shape}]`);
      this.engine.write(p.value, w.data);
    }
  }

  /** The JSON config stored with the weights by {@link serialize}. */
  config(): ModelConfig {
    return {
      format: 'mnv2-keras',
      version: 1,
      name: this.name,
      seed: this.seed,
      base: {
        name: this.base.name,
        alpha: this.base.alpha,
        inputSize: this.inputSize,
        trainable: this.base.trainable,
        frozenLayers: this.base.layers.filter((l) => !l.trainable).map((l) => l.name),
      },
      layers: this.layers.map((l) => (l instanceof MobileNetV2 ? { kind: 'MobileNetV2' as const } : l)),
      compile: this.compiled
        ? { loss: this.compiled.loss, metrics: [...this.compiled.metrics] as ('accuracy' | 'acc')[], optimizer: { ...this.compiled.optimizer.config } }
        : null,
    };
  }

  /** The model as safetensors bytes: every weight (Keras names and shapes) + the JSON config in the metadata. */
  async serialize(): Promise<Uint8Array> {
    const w = await this.getWeights();
    return serializeSafetensors(w, { format: 'mnv2-keras', config: JSON.stringify(this.config()) });
  }

  /** Keras `model.save(path)`: one .safetensors file (weights + config); needs a platform with files (Node entry). */
  async save(path: string): Promise<void> {
    this.check();
    await need('writeFile', 'model.save')(path, await this.serialize());
  }

  /** True after {@link dispose}. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees every GPU tensor of the model: base and head weights, optimizer slots. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.compiled?.optimizer.dispose();
    for (const p of this.head.params()) p.value.dispose();
    this.base.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The serialised form of a model's architecture and compile settings. */
export interface ModelConfig {
  format: 'mnv2-keras';
  version: 1;
  name: string;
  seed: number;
  base: { name: string; alpha: number; inputSize: number; trainable: boolean; frozenLayers: string[] };
  layers: (LayerSpec | { kind: 'MobileNetV2' })[];
  compile: { loss: Loss; metrics: ('accuracy' | 'acc')[]; optimizer: Record<string, number | boolean | string> } | null;
}

/**
 * Keras `keras.Sequential([...])` for the MobileNetV2 transfer-learning shape. Throws naming the
 * supported order when the layers do not fit it. The model takes ownership of the base.
 */
export function sequential(layers: readonly ModelLayer[], opts: SequentialOptions = {}): Model {
  return new Model(layers, opts);
}

function optimizerFromConfig(c: Record<string, number | boolean | string>): Optimizer {
  const lr = Number(c.learning_rate);
  if (c.name === 'rmsprop') return rmsprop({ learningRate: lr });
  if (c.name === 'sgd') return sgd({ learningRate: lr });
  return adam({ learningRate: lr });
}

/** Rebuilds a model from {@link Model.serialize} bytes (compiled again when it was; optimizer slots start fresh). */
export async function deserializeModel(bytes: Uint8Array, opts: { engine?: Engine; file?: string } = {}): Promise<Model> {
  const file = opts.file ?? '<model>';
  const st = parseSafetensors(bytes, file);
  if (st.metadata.format !== 'mnv2-keras' || !st.metadata.config) throw new Error(`${file} is not a model saved by Model.save (no mnv2-keras config in its metadata)`);
  const cfg = JSON.parse(st.metadata.config) as ModelConfig;
  const e = opts.engine ?? (await getDefaultEngine());
  const base = new MobileNetV2(e, { alpha: cfg.base.alpha, inputSize: cfg.base.inputSize, weights: st.weights, name: cfg.base.name, source: file });
  const frozen = new Set(cfg.base.frozenLayers);
  base.trainable = cfg.base.trainable;
  for (const l of base.layers) if (frozen.has(l.name)) l.trainable = false;
  const model = sequential(
    cfg.layers.map((l) => (l.kind === 'MobileNetV2' ? base : l)),
    { name: cfg.name, seed: cfg.seed },
  );
  model.setWeights(st.weights);
  if (cfg.compile) model.compile({ optimizer: optimizerFromConfig(cfg.compile.optimizer), loss: cfg.compile.loss, metrics: cfg.compile.metrics });
  return model;
}

/** Keras `keras.models.load_model(path)`; needs a platform with files (Node entry). */
export async function loadModel(path: string, opts: { engine?: Engine } = {}): Promise<Model> {
  const bytes = await need('readFile', 'loadModel')(path);
  return deserializeModel(bytes, { ...opts, file: path });
}
