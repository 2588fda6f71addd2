// The engine worker: owns the GPUDevice (self.navigator.gpu), core's Engine, the loaded models and
// trainers. The page talks to it through comlink (see index.ts), so decoding, uploads, training and
// read-backs never block the page's main thread.
import * as Comlink from 'comlink';
import {
  Engine,
  CacheBudget,
  ImageDataset,
  MobileNetV2,
  MobileNetV2Net,
  buildClassifier,
  encodeOnnxModel,
  hasSubgroups8,
  adapterKey,
  matmulTuningOf,
  setMatmulTuning,
  tuneNetworkMatmuls,
  labelsForClasses,
  layers,
  losses,
  mobileNetV2Onnx,
  parseLabels,
  prepareImages,
  sequential,
  serializeSafetensors,
  transferLearning,
  optimizers,
  softmax,
  topK,
  weightSource,
  type Callback,
  type ClassifierInfo,
  type FitImage,
  type ImageSplitSource,
  type Model,
  type Tensor,
  type WeightMap,
  type MatmulTuning,
} from '@mnv2/core';
import { decodeToRgb } from './decode.js';
import { fetchWeights, importWeights, clearWeightsCache, WeightsLoadError, type ImportedWeights, type WeightsInput } from './weights.js';
import { runBench } from './bench.js';
import { trainerTflite } from './export-tflite.js';
import type {
  AdapterSummary,
  EngineInitOptions,
  BenchRow,
  ClassifyOptions,
  ClassifyResult,
  DeviceLostInfo,
  EvaluateResult,
  FitOptions,
  FitSummary,
  LoadProgress,
  ModelSummary,
  OnnxExportOptions,
  TfliteExportOptions,
  RgbPixels,
  TrainEvent,
  TrainerOptions,
  TrainerSummary,
  TuneSummary,
  WorkerImage,
} from './protocol.js';

/** Cache API bucket of the per-adapter matmul tuning (`tune()`). */
const TUNING_CACHE = 'mnv2-tuning';

const WEBGPU_HINT =
  'Use Chrome or Edge 113+ (desktop), Chrome 121+ on Android, Safari 26+, or Firefox 141+ on Windows; on Linux start Chrome/Chromium with --enable-unsafe-webgpu --enable-features=Vulkan (or enable chrome://flags/#enable-unsafe-webgpu).';

interface LoadedModel {
  summary: ModelSummary;
  /** Host copy of the weights: rebuilds the network after a device loss. */
  weights: WeightMap;
  info: ClassifierInfo | null;
  net: MobileNetV2Net | null;
  /** Custom (trained) heads: 'binary' = one sigmoid output for two labels. */
  headKind: 'softmax' | 'binary';
  /** Set for a trainer's model: its network is the trainer's current one. */
  trainerId?: number;
}

/**
 * A training image as the trainer holds it: a file/blob stays as it is (compressed, on the host; a
 * File from a folder pick is not even read into memory) and is decoded when a batch needs it;
 * pixels given as such (or ImageBitmaps, which cannot be kept) are held decoded.
 */
interface HeldImage {
  src: Blob | RgbPixels;
  label: number;
  name: string;
}

/** The pixels of a held image (decoded now when it is a blob). */
const pixelsOf = (h: HeldImage): Promise<RgbPixels> => (h.src instanceof Blob ? decodeToRgb(h.src, h.name) : Promise.resolve(h.src));

/** Runs `fn` over `items` with at most `limit` at once (decoding a 2,000-image folder stays bounded). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

interface TrainerState {
  id: number;
  classes: string[];
  images: HeldImage[];
  imageSize: number;
  seed: number;
  base: { imported: ImportedWeights; summary: ModelSummary };
  /** The Keras-shaped model being trained (MobileNetV2 base + pooling/dropout/dense head); null after a device loss or reset. */
  model: Model | null;
  /** What `model` was built with (a fit asking for other augmentation/dropout rebuilds it, keeping its weights). */
  built: { augment: boolean; dropout: number } | null;
  netClasses: number;
  dropout: number;
  /** RandomFlip + RandomRotation layers in the model (FitOptions.augment of the last fit). */
  augment: boolean;
  /** Host snapshot of the trained network (after fit/load): survives a device loss. */
  snapshot: WeightMap | null;
  modelId: number | null;
}

const now = () => performance.now();

class EngineWorker {
  private engine: Engine | null = null;
  private adapter: GPUAdapter | null = null;
  private lost: DeviceLostInfo | null = null;
  private lostListeners: ((info: DeviceLostInfo) => void)[] = [];
  private models = new Map<number, LoadedModel>();
  private trainers = new Map<number, TrainerState>();
  private imported = new Map<string, ImportedWeights>();
  private nextId = 1;
  /** Last measured steps (name → ms), for the adapter panel. */
  private timings: Record<string, number> = {};

  // ---- device ---------------------------------------------------------------------------------

  private engineOptions: EngineInitOptions = {};

  /** Counters of the paged paths (tensors above the binding limit) since the engine started. */
  paging(): { pagedOps: number; pages: number } {
    if (!this.engine) throw new Error('the engine is not initialised: call init() first');
    return { ...this.engine.paging };
  }

  /** The engine's device memory: bytes its buffer pool holds now, and the most it has held (benchmarks read it). */
  memory(): { deviceBytes: number; devicePeakBytes: number } {
    if (!this.engine) throw new Error('the engine is not initialised: call init() first');
    return { deviceBytes: this.engine.pool.allocatedBytes, devicePeakBytes: this.engine.pool.peakBytes };
  }

  async init(opts?: EngineInitOptions): Promise<AdapterSummary> {
    if (opts) this.engineOptions = { ...opts };
    const gpu = (self.navigator as Navigator).gpu;
    if (!gpu) throw new Error(`WebGPU is not available in this browser's workers. ${WEBGPU_HINT}`);
    const t0 = now();
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error(`WebGPU is available but found no GPU adapter: it is disabled or this GPU is blocklisted (see chrome://gpu). ${WEBGPU_HINT}`);
    const want: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];
    const requiredFeatures = want.filter((f) => adapter.features.has(f));
    const L = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
        maxBufferSize: L.maxBufferSize,
        maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      },
    });
    this.adapter = adapter;
    const info = adapter.info;
    const adapterName = [info?.vendor, info?.architecture, info?.description].filter((x) => x).join(' / ') || undefined;
    this.engine = new Engine(device, { maxBindingBytes: this.engineOptions.maxBindingBytes, precision: this.engineOptions.precision, adapterName });
    await this.loadTuning(this.engine);
    this.lost = null;
    device.lost.then((info) => {
      if (this.engine?.device !== device) return; // an old device after recover()
      this.lost = { reason: String(info.reason), message: info.message || 'no message' };
      for (const l of this.lostListeners) l(this.lost);
    });
    this.timings.device = now() - t0;
    return this.adapterSummary();
  }

  adapterSummary(): AdapterSummary {
    const a = this.adapter;
    const e = this.engine;
    if (!a || !e) throw new Error('the engine is not initialised: call init() first');
    const i = a.info;
    const limits: Record<string, number> = {};
    for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupsPerDimension'] as const) {
      limits[k] = Number(e.device.limits[k]);
    }
    return {
      vendor: i.vendor,
      architecture: i.architecture,
      device: i.device,
      description: i.description,
      features: [...e.device.features].map(String).sort(),
      limits,
      subgroups8: hasSubgroups8(e),
      bindingLimit: e.bindingLimit,
      matmulVariants: matmulTuningOf(e) ? `tuned for this adapter (${Object.keys(matmulTuningOf(e)!.choices).length} products)` : 'built-in heuristic',
    };
  }

  /** Where this adapter's matmul tuning is kept (Cache API: survives reloads, per origin). */
  private static tuningUrl(e: Engine): string {
    return `https://mnv2.invalid/tuning/matmul/${encodeURIComponent(adapterKey(e))}.json`;
  }

  private async loadTuning(e: Engine): Promise<void> {
    if (typeof caches === 'undefined') return;
    try {
      const res = await (await caches.open(TUNING_CACHE)).match(EngineWorker.tuningUrl(e));
      if (res) setMatmulTuning(e, (await res.json()) as MatmulTuning);
    } catch {
      // an unreadable entry: the heuristic runs (tune() writes a new one)
    }
  }

  /**
   * `mnv2 tune` in the page: times the matmul variants of every product MobileNetV2 runs at this size
   * and batch on this adapter, uses the fastest from now on and keeps them in the Cache API.
   */
  async tune(opts: { imageSize?: number; batchSize?: number; alpha?: number; budgetSeconds?: number } = {}): Promise<TuneSummary> {
    const e = this.eng();
    const t0 = now();
    const { tuning, shapes } = await tuneNetworkMatmuls(e, { alpha: opts.alpha ?? 1.0, inputSize: opts.imageSize ?? 224, batch: opts.batchSize ?? 1, budgetMs: (opts.budgetSeconds ?? 30) * 1000 });
    setMatmulTuning(e, tuning);
    if (typeof caches !== 'undefined') await (await caches.open(TUNING_CACHE)).put(EngineWorker.tuningUrl(e), new Response(JSON.stringify(tuning), { headers: { 'content-type': 'application/json' } }));
    const c = Object.values(tuning.choices);
    return { products: shapes.length, tuned: c.length, heuristicMs: c.reduce((a, t) => a + t.defaultMs, 0), tunedMs: c.reduce((a, t) => a + t.ms, 0), seconds: (now() - t0) / 1000 };
  }

  onDeviceLost(cb: (info: DeviceLostInfo) => void): void {
    this.lostListeners.push(cb);
    if (this.lost) cb(this.lost);
  }

  private eng(): Engine {
    if (!this.engine) throw new Error('the engine is not initialised: call init() first');
    if (this.lost) throw new Error(`the GPU device was lost (${this.lost.reason}: ${this.lost.message}); call recover() to start a new one`);
    return this.engine;
  }

  /** A new device after a loss; every model is rebuilt from its host copy (trainers from their last snapshot). */
  async recover(): Promise<AdapterSummary> {
    const old = this.engine;
    this.engine = null;
    try {
      old?.destroy();
    } catch {
      // already gone
    }
    const summary = await this.init();
    for (const m of this.models.values()) m.net = null;
    for (const t of this.trainers.values()) t.model = null;
    for (const [id, m] of this.models) if (m.summary.kind === 'imagenet' && m.trainerId === undefined) this.buildModelNet(id);
    for (const t of this.trainers.values()) if (t.snapshot) this.restoreTrainerNet(t, t.snapshot);
    return summary;
  }

  getTimings(): Record<string, number> {
    return { ...this.timings };
  }

  async clearCache(): Promise<boolean> {
    this.imported.clear();
    return clearWeightsCache();
  }

  // ---- test hooks -------------------------------------------------------------------------------

  /** Destroys the device (the same path as a real loss: the page is told through onDeviceLost). */
  debugLoseDevice(): void {
    this.engine?.device.destroy();
  }

  /** Throws inside the worker (a failed call). */
  debugThrow(message: string): never {
    throw new Error(message);
  }

  /** An uncaught error in the worker's event loop (the page sees the worker's error event). */
  debugCrash(message: string): void {
    setTimeout(() => {
      throw new Error(message);
    }, 0);
  }

  // ---- weights and models ---------------------------------------------------------------------

  private async importCached(input: WeightsInput, name: string | undefined, onProgress?: (p: LoadProgress) => void): Promise<{ imp: ImportedWeights; source: string; fromCache: boolean; timings: Record<string, number> }> {
    const key = typeof input === 'string' ? input : null;
    if (key && this.imported.has(key)) {
      onProgress?.({ stage: 'import', loaded: 1, total: 1, fromCache: true });
      return { imp: this.imported.get(key)!, source: key, fromCache: true, timings: { download: 0, import: 0 } };
    }
    const t0 = now();
    const got = await fetchWeights(input, name, onProgress);
    const t1 = now();
    onProgress?.({ stage: 'import', loaded: 0, total: 1, fromCache: got.fromCache });
    const imp = await importWeights(got.bytes, got.source);
    await got.commit(); // cache only what imported cleanly (a corrupt download is not kept)
    const t2 = now();
    if (key) this.imported.set(key, imp);
    return { imp, source: got.source, fromCache: got.fromCache, timings: { download: t1 - t0, import: t2 - t1 } };
  }

  private async fetchLabels(url: string | undefined, classes: number): Promise<string[]> {
    if (url) {
      const res = await fetch(url);
      if (!res.ok) throw new WeightsLoadError(`cannot download labels '${url}': HTTP ${res.status}`);
      return labelsForClasses(classes, parseLabels(new Uint8Array(await res.arrayBuffer()), url)).names;
    }
    return labelsForClasses(classes, null).names;
  }

  /** Loads a model: an ImageNet classifier (any format with `predictions/*`) or an mnv2-trained safetensors (`dense/*` head). */
  async loadModel(input: WeightsInput, opts: { name?: string; labels?: string } = {}, onProgress?: (p: LoadProgress) => void): Promise<ModelSummary> {
    this.eng();
    const { imp, source, fromCache, timings } = await this.importCached(input, opts.name, onProgress);
    const id = this.nextId++;
    if (imp.classifier) {
      const info = imp.classifier;
      const labels = await this.fetchLabels(opts.labels, info.classes);
      const summary: ModelSummary = { id, kind: 'imagenet', format: imp.format, description: imp.description, alpha: info.alpha, inputSize: info.inputSize, labels, source, fromCache, timings };
      this.models.set(id, { summary, weights: imp.weights, info, net: null, headKind: 'softmax' });
    } else if (imp.weights.has('dense/kernel')) {
      const k = imp.weights.get('dense/kernel')!;
      const outputs = k.shape[k.shape.length - 1];
      const names = parseClassNames(imp.metadata.classes, outputs);
      const size = Number(imp.metadata.input_size) || 224;
      const summary: ModelSummary = { id, kind: 'custom', format: imp.format, description: `${imp.description}, ${names.length} classes (${names.join(', ')}), ${size}x${size}`, alpha: imp.alpha, inputSize: size, labels: names, source, fromCache, timings };
      this.models.set(id, { summary, weights: imp.weights, info: null, net: null, headKind: outputs === 1 ? 'binary' : 'softmax' });
    } else {
      throw new WeightsLoadError(`weights '${source}' have no classifier head (predictions/* or dense/*): they are a feature extractor; use them as a trainer base instead`);
    }
    onProgress?.({ stage: 'build', loaded: 0, total: 1, fromCache });
    const t0 = now();
    this.buildModelNet(id);
    await this.eng().sync();
    const m = this.models.get(id)!;
    m.summary.timings.build = now() - t0;
    this.timings['load: download'] = timings.download;
    this.timings['load: import'] = timings.import;
    this.timings['load: GPU upload'] = m.summary.timings.build;
    onProgress?.({ stage: 'build', loaded: 1, total: 1, fromCache });
    return m.summary;
  }

  private buildModelNet(id: number): void {
    const m = this.models.get(id)!;
    const e = this.eng();
    if (m.info) {
      m.net = buildClassifier(e, m.weights, m.info);
      return;
    }
    const k = m.weights.get('dense/kernel')!;
    const outputs = k.shape[k.shape.length - 1];
    const net = new MobileNetV2Net(e, { alpha: m.summary.alpha, inputSize: m.summary.inputSize, head: { classes: outputs, pooling: 'avg', dropout: 0, denseName: 'dense' }, weights: weightSource(m.weights, { source: m.summary.source }) });
    writeHead(e, net, m.weights, m.summary.source);
    m.net = net;
  }

  disposeModel(id: number): void {
    const m = this.models.get(id);
    this.models.delete(id);
    if (m?.net && this.engine && !this.lost) m.net.dispose();
  }

  async classify(id: number, images: WorkerImage[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    const m = this.models.get(id);
    if (!m) throw new Error(`classify: no model ${id} (disposed?)`);
    const e = this.eng();
    if (m.trainerId !== undefined) {
      const t = this.trainer(m.trainerId);
      if (!t.snapshot) throw new Error('the trainer has no trained model (it was reset, or its image size changed): train it again');
      if (!t.model) this.restoreTrainerNet(t, t.snapshot);
      m.net = t.model!.base.net;
    } else if (!m.net) this.buildModelNet(id);
    const t0 = now();
    const decoded = await Promise.all(images.map((im, i) => decodeToRgb(im, `image ${i + 1}`)));
    const t1 = now();
    const out = await predict(e, m.net!, decoded, m.info?.preprocess ?? 'tf', m.headKind);
    const t2 = now();
    this.timings['classify: decode'] = t1 - t0;
    this.timings[`classify: GPU (${decoded.length} image${decoded.length > 1 ? 's' : ''})`] = t2 - t1;
    const labels = m.trainerId !== undefined ? this.trainer(m.trainerId).classes : m.summary.labels; // renames apply
    const k = Math.max(1, Math.min(opts.top ?? 5, labels.length));
    return decoded.map((d, i) => ({
      width: d.width,
      height: d.height,
      top: topK(out.probs[i], k).map((p) => ({ index: p.index, label: labels[p.index] ?? `class ${p.index}`, probability: p.probability })),
      probabilities: Array.from(out.probs[i]),
      ...(opts.logits ? { logits: Array.from(out.logits[i]) } : {}),
    }));
  }

  // ---- training -------------------------------------------------------------------------------

  async createTrainer(opts: TrainerOptions, onProgress?: (p: LoadProgress) => void): Promise<TrainerSummary> {
    this.eng();
    if (!opts.classes || opts.classes.length < 2) throw new Error('createTrainer: give at least two class names');
    const t0 = now();
    const { imp, source, fromCache, timings } = await this.importCached(opts.base, opts.baseName, onProgress);
    const id = this.nextId++;
    const size = opts.imageSize ?? 160;
    if (!Number.isInteger(size) || size < 32) throw new Error(`createTrainer: imageSize must be an integer >= 32, got ${size}`);
    const summary: ModelSummary = { id, kind: 'imagenet', format: imp.format, description: imp.description, alpha: imp.alpha, inputSize: size, labels: [], source, fromCache, timings: { ...timings, total: now() - t0 } };
    const t: TrainerState = { id, classes: [...opts.classes], images: [], imageSize: size, seed: opts.seed ?? 42, base: { imported: imp, summary }, model: null, built: null, netClasses: 0, dropout: 0.2, augment: false, snapshot: null, modelId: null };
    this.trainers.set(id, t);
    return this.trainerSummary(t);
  }

  private trainer(id: number): TrainerState {
    const t = this.trainers.get(id);
    if (!t) throw new Error(`no trainer ${id}`);
    return t;
  }

  private trainerSummary(t: TrainerState): TrainerSummary {
    const counts = t.classes.map((_, c) => t.images.filter((im) => im.label === c).length);
    return { id: t.id, classes: [...t.classes], counts, imageSize: t.imageSize, trained: t.snapshot !== null, base: t.base.summary };
  }

  getTrainer(id: number): TrainerSummary {
    return this.trainerSummary(this.trainer(id));
  }

  addClass(id: number, name: string): TrainerSummary {
    const t = this.trainer(id);
    t.classes.push(name);
    t.snapshot = null; // the trained head no longer matches the classes: train again
    return this.trainerSummary(t);
  }

  renameClass(id: number, index: number, name: string): TrainerSummary {
    const t = this.trainer(id);
    if (index < 0 || index >= t.classes.length) throw new Error(`renameClass: no class ${index}`);
    t.classes[index] = name;
    return this.trainerSummary(t);
  }

  removeClass(id: number, index: number): TrainerSummary {
    const t = this.trainer(id);
    if (index < 0 || index >= t.classes.length) throw new Error(`removeClass: no class ${index}`);
    t.classes.splice(index, 1);
    t.snapshot = null;
    t.images = t.images.filter((im) => im.label !== index).map((im) => ({ ...im, label: im.label > index ? im.label - 1 : im.label }));
    return this.trainerSummary(t);
  }

  /** Decodes images into the class; returns the summary and the names of files that could not be decoded. */
  async addImages(id: number, classIndex: number, images: WorkerImage[]): Promise<{ summary: TrainerSummary; errors: string[] }> {
    const t = this.trainer(id);
    if (classIndex < 0 || classIndex >= t.classes.length) throw new Error(`addImages: no class ${classIndex} (there are ${t.classes.length})`);
    const t0 = now();
    const errors: string[] = [];
    // Each image is decoded once here to check it; blobs are then kept undecoded (decoded again per batch).
    const held = await mapLimit(images, 8, async (im, i): Promise<HeldImage | null> => {
      const name = im instanceof File ? im.name : `image ${i + 1}`;
      try {
        const px = await decodeToRgb(im, name);
        return { src: im instanceof Blob ? im : px, label: classIndex, name };
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
        return null;
      }
    });
    for (const h of held) if (h) t.images.push(h);
    this.timings['add images: decode'] = now() - t0;
    return { summary: this.trainerSummary(t), errors };
  }

  /** Changes the training input size (the next fit starts a fresh head at that size). */
  setImageSize(id: number, size: number): TrainerSummary {
    const t = this.trainer(id);
    if (!Number.isInteger(size) || size < 32) throw new Error(`imageSize must be an integer >= 32, got ${size}`);
    if (size !== t.imageSize) {
      t.imageSize = size;
      this.disposeTrainerModel(t);
      t.snapshot = null;
    }
    return this.trainerSummary(t);
  }

  clearImages(id: number, classIndex?: number): TrainerSummary {
    const t = this.trainer(id);
    t.images = classIndex === undefined ? [] : t.images.filter((im) => im.label !== classIndex);
    return this.trainerSummary(t);
  }

  private headClasses(t: TrainerState): number {
    return t.classes.length === 2 ? 1 : t.classes.length;
  }

  /** Frees the trainer's model (its GPU weights and optimizer slots) when the device still holds them. */
  private disposeTrainerModel(t: TrainerState): void {
    if (t.model && this.engine && !this.lost) t.model.dispose();
    t.model = null;
    t.built = null;
  }

  /**
   * A fresh Keras-shaped model for the trainer, as `mnv2 train` builds it: [randomFlip, randomRotation(0.2)]
   * → preprocessInput → MobileNetV2 base (ImageNet weights, frozen) → globalAveragePooling2d → dropout →
   * dense(1) for two classes (binary) or dense(K). Weight names are Keras' (`dense/kernel`, …).
   */
  private newTrainerModel(t: TrainerState): Model {
    const e = this.eng();
    if (t.model) t.model.dispose();
    const classes = this.headClasses(t);
    const base = new MobileNetV2(e, { alpha: t.base.imported.alpha, inputSize: t.imageSize, weights: t.base.imported.weights, seed: t.seed, source: t.base.summary.source });
    base.trainable = false;
    const model = sequential(
      [
        ...(t.augment ? [layers.randomFlip('horizontal'), layers.randomRotation(0.2)] : []),
        layers.preprocessInput(),
        base,
        layers.globalAveragePooling2d(),
        layers.dropout(t.dropout),
        layers.dense(classes),
      ],
      { seed: t.seed },
    );
    t.model = model;
    t.built = { augment: t.augment, dropout: t.dropout };
    t.netClasses = t.classes.length;
    return model;
  }

  private restoreTrainerNet(t: TrainerState, w: WeightMap): void {
    const model = this.newTrainerModel(t);
    const e = this.eng();
    for (const p of model.base.net.params()) {
      const v = w.get(p.name);
      if (v && v.data.length === p.value.size) e.write(p.value, v.data);
    }
  }

  async fit(id: number, opts: FitOptions = {}, onEvent?: (ev: TrainEvent) => void): Promise<FitSummary> {
    const t = this.trainer(id);
    this.eng();
    const counts = t.classes.map((_, c) => t.images.filter((im) => im.label === c).length);
    const empty = t.classes.filter((_, c) => counts[c] === 0);
    if (empty.length) throw new Error(`fit: every class needs images; ${empty.map((n) => `'${n}'`).join(', ')} ${empty.length > 1 ? 'have' : 'has'} none`);
    if (opts.dropout !== undefined) t.dropout = opts.dropout;
    t.augment = opts.augment ?? false;
    if (!t.model || opts.reset || t.netClasses !== t.classes.length) {
      if (t.snapshot && !opts.reset && t.netClasses === t.classes.length) this.restoreTrainerNet(t, t.snapshot);
      else this.newTrainerModel(t);
    } else if (t.built?.augment !== t.augment || t.built?.dropout !== t.dropout) {
      // Augmentation and dropout are layers of the Keras model: rebuild it with the current weights.
      this.restoreTrainerNet(t, await t.model.getWeights());
    }
    const model = t.model!;
    const base = model.base;
    base.trainable = false;
    const binary = t.classes.length === 2;
    // Hold out every k-th image of each class for validation.
    const split = opts.validationSplit ?? 0;
    const train: HeldImage[] = [];
    const val: HeldImage[] = [];
    if (split > 0) {
      for (let c = 0; c < t.classes.length; c++) {
        const of = t.images.filter((im) => im.label === c);
        const nVal = Math.min(of.length - 1, Math.round(of.length * split));
        const every = nVal > 0 ? of.length / nVal : Infinity;
        of.forEach((im, i) => (nVal > 0 && Math.floor(i % every) === 0 && val.filter((v) => v.label === c).length < nVal ? val : train).push(im));
      }
    } else train.push(...t.images);
    // Images are decoded per batch (a batch or two ahead) unless the dataset fits its GPU cache budget.
    const source = (items: HeldImage[]): ImageSplitSource => ({
      labels: items.map((i) => i.label),
      load: (idx: readonly number[]) => Promise.all(idx.map((i): Promise<FitImage | null> => pixelsOf(items[i]).catch(() => null))),
    });
    const epochs = opts.epochs ?? 10;
    const ftAt = opts.fineTuneAt ?? null;
    const ftEpochs = ftAt === null ? 0 : (opts.fineTuneEpochs ?? 5);
    const total = epochs + ftEpochs;
    const lr = opts.learningRate ?? 1e-3;
    const batchSize = opts.batchSize ?? 16;
    const size: [number, number] = [t.imageSize, t.imageSize];
    // One GPU cache budget for the run (uint8 inputs, then features): what does not fit streams or is recomputed.
    const cacheBudget = new CacheBudget(opts.cacheBudgetBytes ?? 512 * 2 ** 20);
    const trainDs = new ImageDataset(source(train), { batchSize, classNames: t.classes, imageSize: size, name: 'training', cacheBudget });
    const valDs = val.length ? new ImageDataset(source(val), { batchSize, classNames: t.classes, imageSize: size, name: 'validation', cacheBudget }) : null;
    const loss = binary ? losses.binaryCrossentropy({ fromLogits: true }) : losses.sparseCategoricalCrossentropy({ fromLogits: true });
    const summary: FitSummary = { history: [], stepLosses: [], seconds: 0, diverged: false };
    const t0 = now();
    // The recipe is core's (`transferLearning`, the same as `mnv2 train`); this callback turns its progress into TrainEvents.
    let stage: 'frozen' | 'fine-tune' = 'frozen';
    let epoch = 0;
    const events: Callback = {
      onCacheProgress: (c) => onEvent?.({ type: 'cache', what: c.what, split: c.split, done: c.done, total: c.total }),
      onCachePlan: (p) => onEvent?.({ type: 'cache-plan', message: p.message }),
      onEpochBegin: (ep) => {
        epoch = ep;
      },
      onBatchEnd: (_batch, b) => {
        summary.stepLosses.push(b.loss);
        onEvent?.({ type: 'batch', phase: 'train', stage, epoch, epochs: total, step: b.step, steps: b.steps, loss: b.loss, seconds: b.seconds });
      },
      onTestBatchEnd: (_batch, b) => onEvent?.({ type: 'batch', phase: 'validation', stage, epoch, epochs: total, step: b.step, steps: b.steps, loss: b.loss, seconds: b.seconds }),
      onEpochEnd: (ep, logs) => {
        const h = { epoch: ep, stage, loss: logs.loss, accuracy: logs.accuracy ?? NaN, valLoss: logs.val_loss ?? null, valAccuracy: logs.val_accuracy ?? null, seconds: logs.seconds ?? 0 };
        summary.history.push(h);
        onEvent?.({ type: 'epoch', epochs: total, ...h });
      },
    };
    model.compile({ optimizer: optimizers.adam(lr), loss, metrics: ['accuracy'] });
    try {
      const r = await transferLearning(model, trainDs, {
        epochs,
        learningRate: lr,
        fineTuneAt: ftAt,
        fineTuneEpochs: ftEpochs,
        validationData: valDs,
        seed: t.seed,
        cacheBudget,
        callbacks: [events],
        onPhase: (p) => {
          stage = p.phase;
          const message =
            p.phase === 'frozen'
              ? `Training the head (${epochs} epoch${epochs === 1 ? '' : 's'}, base frozen, ${train.length} training / ${val.length} validation images, ${t.imageSize}x${t.imageSize})`
              : `Fine-tuning ${p.unfrozen.length} base layers from Keras layer ${ftAt} (${ftEpochs} epochs, lr ${p.learningRate})`;
          onEvent?.({ type: 'phase', stage: p.phase, message });
        },
      });
      if (r.diverged) {
        summary.diverged = true;
        onEvent?.({ type: 'diverged', epoch: r.diverged.epoch, step: r.diverged.step, loss: r.diverged.loss });
      }
    } finally {
      base.trainable = false;
      trainDs.dispose();
      valDs?.dispose();
    }
    summary.seconds = (now() - t0) / 1000;
    this.timings[`train: ${total} epochs`] = now() - t0;
    if (!summary.diverged) t.snapshot = await model.getWeights();
    else if (t.snapshot) this.restoreTrainerNet(t, t.snapshot); // back to the last good weights
    else this.disposeTrainerModel(t); // NaN weights: the next fit starts afresh
    if (t.snapshot) this.registerTrainerModel(t);
    return summary;
  }

  /** The trainer's network as a classify-able model (ids stay valid across fits). */
  private registerTrainerModel(t: TrainerState): number {
    const size = t.imageSize;
    const summary: ModelSummary = {
      id: t.modelId ?? this.nextId++,
      kind: 'custom',
      format: 'trained',
      description: `trained in this page: ${t.classes.length} classes, ${size}x${size}`,
      alpha: t.base.imported.alpha,
      inputSize: size,
      labels: [...t.classes],
      source: 'trainer',
      fromCache: false,
      timings: {},
    };
    t.modelId = summary.id;
    this.models.set(summary.id, { summary, weights: t.snapshot ?? new Map(), info: null, net: t.model?.base.net ?? null, headKind: t.classes.length === 2 ? 'binary' : 'softmax', trainerId: t.id });
    return summary.id;
  }

  trainerModel(id: number): ModelSummary {
    const t = this.trainer(id);
    if (t.modelId === null || !t.snapshot) throw new Error('the trainer has no trained model yet: call fit() (or load()) first');
    const m = this.models.get(t.modelId)!;
    m.summary.labels = [...t.classes];
    return m.summary;
  }

  async evaluate(id: number): Promise<EvaluateResult> {
    const t = this.trainer(id);
    const e = this.eng();
    const m = this.models.get(this.trainerModel(id).id)!;
    if (!t.model) this.restoreTrainerNet(t, t.snapshot!);
    const net = t.model!.base.net;
    m.net = net;
    const K = t.classes.length;
    const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
    let loss = 0;
    let correct = 0;
    for (let a = 0; a < t.images.length; a += 16) {
      const chunk = t.images.slice(a, a + 16);
      const out = await predict(e, net, await Promise.all(chunk.map(pixelsOf)), 'tf', m.headKind);
      chunk.forEach((c, i) => {
        const p = out.probs[i];
        let best = 0;
        for (let k = 1; k < K; k++) if (p[k] > p[best]) best = k;
        confusion[c.label][best]++;
        if (best === c.label) correct++;
        loss += -Math.log(Math.max(p[c.label], 1e-7));
      });
    }
    const n = t.images.length;
    return { images: n, accuracy: n ? correct / n : NaN, loss: n ? loss / n : NaN, confusion };
  }

  /** The trained network as safetensors (Keras names; metadata as `mnv2 train` writes it). */
  async save(id: number): Promise<Uint8Array> {
    const t = this.trainer(id);
    if (!t.snapshot) throw new Error('save: nothing trained yet: call fit() first');
    const meta = { format: 'mnv2', alpha: String(t.base.imported.alpha), input_size: String(t.imageSize), preprocess: 'tf', padding: 'same', epsilon: '0.001', classes: JSON.stringify(t.classes), label_mode: t.classes.length === 2 ? 'binary' : 'categorical' };
    const bytes = serializeSafetensors(t.snapshot, meta);
    return Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]);
  }

  /**
   * The trained network as an ONNX model (float32, opset 13, the bytes of a .onnx file), written by core's
   * ONNX writer as `mnv2 export --onnx` does: input 'input' [N,S,S,3] (or [N,3,S,S] with layout 'nchw'),
   * RGB scaled to [-1, 1] (x / 127.5 - 1) and resized to the trainer's image size; output 'logits'
   * [N,K] (a two-class model: [N,1], the sigmoid's input) or 'probabilities' with `softmax`.
   */
  exportOnnx(id: number, opts: OnnxExportOptions = {}): Uint8Array {
    const t = this.trainer(id);
    const w = t.snapshot;
    if (!w) throw new Error('exportOnnx: nothing trained yet: call fit() (or load()) first');
    // Head: dense (K or 1 outputs), or a hidden dense(H, relu) + dense_1 (`mnv2 train --hidden-units`).
    const hiddenKernel = w.has('dense_1/kernel') ? w.get('dense/kernel') : undefined;
    const denseName = hiddenKernel ? 'dense_1' : 'dense';
    const bias = w.get(`${denseName}/bias`);
    if (!bias || !w.has(`${denseName}/kernel`)) throw new Error(`exportOnnx: the trained weights have no classifier head (${denseName}/kernel, ${denseName}/bias)`);
    const outputs = bias.data.length;
    const binary = outputs === 1;
    if (opts.softmax && binary) throw new Error('exportOnnx: softmax is for models of three or more classes; this two-class model has one output (a logit: apply a sigmoid for the second class\'s probability)');
    const layout = opts.layout ?? 'nhwc';
    if (layout !== 'nhwc' && layout !== 'nchw') throw new Error(`exportOnnx: layout must be 'nhwc' or 'nchw', got '${String(layout)}'`);
    const alpha = t.base.imported.alpha;
    const S = t.imageSize;
    const graph = mobileNetV2Onnx({
      alpha,
      inputSize: S,
      batch: 'N',
      weight: (name) => {
        const v = w.get(name);
        if (!v) throw new Error(`exportOnnx: the trained weights have no tensor '${name}'`);
        return v.data;
      },
      head: { classes: outputs, denseName, softmax: !!opts.softmax, ...(hiddenKernel ? { hidden: w.get('dense/bias')!.data.length, hiddenName: 'dense' } : {}) },
      padding: 'same',
      epsilon: 1e-3,
      foldBatchNorm: !!opts.foldBatchNorm,
      inputLayout: layout,
    });
    const input = layout === 'nhwc' ? `[N,${S},${S},3]` : `[N,3,${S},${S}]`;
    const output = opts.softmax ? `probabilities [N,${outputs}]` : binary ? `logits [N,1] (sigmoid: probability of '${t.classes[1]}')` : `logits [N,${outputs}]`;
    const bytes = encodeOnnxModel(graph, {
      docString: `MobileNetV2 alpha ${alpha} trained in the mnv2 web demo. Input 'input' ${input}: RGB resized to ${S}x${S}, scaled to [-1,1] (x / 127.5 - 1). Output ${output}. Classes: ${JSON.stringify(t.classes)}.`,
      metadata: { format: 'mnv2', alpha: String(alpha), input_size: String(S), input_layout: layout, preprocess: 'tf', classes: JSON.stringify(t.classes), label_mode: t.classes.length === 2 ? 'binary' : 'categorical', output: opts.softmax ? 'probabilities' : 'logits' },
    });
    return Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]);
  }

  /** The trained network as a .tflite file (float32, or int8 calibrated on the trainer's images): export-tflite.ts. */
  async exportTflite(id: number, opts: TfliteExportOptions = {}): Promise<Uint8Array> {
    const t = this.trainer(id);
    if (!t.snapshot) throw new Error('exportTflite: nothing trained yet: call fit() (or load()) first');
    const images = t.images.map((h) => () => pixelsOf(h));
    const bytes = await trainerTflite(this.eng(), { weights: t.snapshot, alpha: t.base.imported.alpha, inputSize: t.imageSize, images }, opts);
    return Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]);
  }

  /** Loads a model saved by `save` (or `mnv2 train`) into the trainer: classes, size and weights. */
  async load(id: number, input: WeightsInput, name?: string): Promise<TrainerSummary> {
    const t = this.trainer(id);
    this.eng();
    const got = await fetchWeights(input, name);
    const imp = await importWeights(got.bytes, got.source);
    const k = imp.weights.get('dense/kernel');
    if (!k) throw new WeightsLoadError(`'${got.source}' is not a model trained by mnv2 (no dense/kernel): load ImageNet classifiers with loadModel`);
    const outputs = k.shape[k.shape.length - 1];
    const names = parseClassNames(imp.metadata.classes, outputs);
    const size = Number(imp.metadata.input_size) || t.imageSize;
    if (Math.abs(imp.alpha - t.base.imported.alpha) > 1e-6) throw new WeightsLoadError(`'${got.source}' is MobileNetV2 alpha ${imp.alpha}; this trainer's base is alpha ${t.base.imported.alpha}`);
    t.classes = names;
    t.imageSize = size;
    t.images = t.images.filter((im) => im.label < names.length);
    t.snapshot = imp.weights;
    this.restoreTrainerNet(t, imp.weights);
    this.registerTrainerModel(t);
    return this.trainerSummary(t);
  }

  disposeTrainer(id: number): void {
    const t = this.trainers.get(id);
    this.trainers.delete(id);
    if (t?.modelId) this.models.delete(t.modelId);
    if (t) this.disposeTrainerModel(t);
  }

  // ---- benchmark --------------------------------------------------------------------------------

  async bench(opts: { quick?: boolean } = {}, onRow?: (row: BenchRow) => void): Promise<BenchRow[]> {
    return runBench(this.eng(), opts, onRow);
  }
}

function parseClassNames(meta: string | undefined, outputs: number): string[] {
  const want = outputs === 1 ? 2 : outputs;
  try {
    const v = meta ? (JSON.parse(meta) as unknown) : null;
    if (Array.isArray(v) && v.length === want && v.every((s) => typeof s === 'string')) return v as string[];
  } catch {
    // fall through
  }
  return Array.from({ length: want }, (_, i) => `class ${i}`);
}

function writeHead(e: Engine, net: MobileNetV2Net, w: WeightMap, source: string): void {
  for (const p of net.head!.params()) {
    const v = w.get(p.name);
    if (!v) throw new WeightsLoadError(`weights '${source}': no ${p.name}`);
    if (v.data.length !== p.value.size) throw new WeightsLoadError(`weights '${source}': ${p.name} has ${v.data.length} values, the network expects ${p.value.size}`);
    e.write(p.value, v.data);
  }
}

/** Logits and probabilities of decoded images, in batches that fit a storage binding. */
async function predict(e: Engine, net: MobileNetV2Net, images: RgbPixels[], preprocess: ClassifierInfo['preprocess'], head: 'softmax' | 'binary'): Promise<{ logits: Float32Array[]; probs: Float32Array[] }> {
  const logits: Float32Array[] = [];
  const probs: Float32Array[] = [];
  const batch = 8;
  for (let a = 0; a < images.length; a += batch) {
    const chunk = images.slice(a, a + batch);
    const x = prepareImages(e, chunk, { size: net.inputSize, preprocess });
    let l: Tensor;
    let p: Tensor | null = null;
    try {
      l = e.tidy(() => net.forward(e, x, { training: false }));
      if (head === 'softmax') p = e.tidy(() => softmax(e, l));
    } finally {
      x.dispose();
    }
    const k = l.shape[1];
    const lv = await l.read();
    const pv = p ? await p.read() : null;
    l.dispose();
    p?.dispose();
    chunk.forEach((_, i) => {
      const row = lv.slice(i * k, (i + 1) * k);
      logits.push(row);
      if (pv) probs.push(pv.slice(i * k, (i + 1) * k));
      else {
        const p1 = 1 / (1 + Math.exp(-row[0]));
        probs.push(Float32Array.from([1 - p1, p1]));
      }
    });
  }
  return { logits, probs };
}

/** Core's DeviceLostError advises restarting a command; in a page the remedy is recover(). */
function forPage(e: unknown): unknown {
  if (e instanceof Error && e.name === 'DeviceLostError') {
    const m = /^GPU device lost \(([^)]*)\): (.*?)\. Nothing was computed/.exec(e.message);
    return new Error(`the GPU device was lost (${m ? `${m[1]}: ${m[2]}` : e.message}) while this ran; call recover() (the demo: “Restart the GPU”) to continue`);
  }
  return e;
}

export type { EngineWorker };
const api = new EngineWorker();
Comlink.expose(
  new Proxy(api, {
    get(target, key) {
      const v = Reflect.get(target, key) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        try {
          const r = (v as (...a: unknown[]) => unknown).apply(target, args);
          return r instanceof Promise ? r.catch((e: unknown) => Promise.reject(forPage(e))) : r;
        } catch (e) {
          throw forPage(e);
        }
      };
    },
  }),
);
