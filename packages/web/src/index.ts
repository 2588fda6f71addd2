// @mnv2/web: MobileNetV2 classification and transfer learning in web pages, on WebGPU. The engine
// (core + the WGSL kernels, unchanged from Node) runs in a dedicated Web Worker driven through
// comlink, so decoding, uploads, training steps and read-backs never freeze the page.
//
//   import { loadModel, createTrainer, checkWebGPU } from '@mnv2/web';
//   const model = await loadModel('/weights/mobilenet_v2.tflite', { labels: '/labels.json', onProgress });
//   const [r] = await model.classify([file]);            // r.top: [{ label, probability }, …]
//   const trainer = await createTrainer({ base: '/weights/mobilenet_v2.tflite', classes: ['cat', 'dog'] });
//   await trainer.addImages(0, catFiles); await trainer.addImages(1, dogFiles);
//   await trainer.fit({ epochs: 5 }, (ev) => …);         // live loss/accuracy events
//   const bytes = await trainer.save();                   // safetensors (mnv2 format, loads in the CLI)
//   const onnx = await trainer.saveOnnx();                // ONNX (float, opset 13) for ONNX Runtime & co.
//   const tflite = await trainer.saveTflite({ int8: true }); // TFLite int8 for phones, Coral, microcontrollers
import * as Comlink from 'comlink';
import type { EngineWorker } from './worker.js';
import type {
  AdapterSummary,
  BenchRow,
  ClassifyOptions,
  ClassifyResult,
  DeviceLostInfo,
  EngineInitOptions,
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

export type * from './protocol.js';

/** What a page may pass as an image: files, blobs, bitmaps, <img>, <canvas>, <video> (its current frame), ImageData, RGB bytes. */
export type ImageInput = Blob | ImageBitmap | HTMLImageElement | HTMLCanvasElement | HTMLVideoElement | OffscreenCanvas | ImageData | RgbPixels;

export class WebGPUUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGPUUnavailableError';
  }
}

export class WorkerCrashedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerCrashedError';
  }
}

export const WEBGPU_HELP =
  'This page needs WebGPU. Use Chrome or Edge 113+ on Windows, macOS or ChromeOS, Chrome 121+ on Android, ' +
  'Safari 26+, or Firefox 141+ on Windows. On Linux, start Chrome/Chromium with --enable-unsafe-webgpu ' +
  '--enable-features=Vulkan (or enable chrome://flags/#enable-unsafe-webgpu). WebGPU also needs a secure ' +
  'context: https:// or http://localhost.';

/** Whether this browser exposes WebGPU, with a message telling the user what to do when it does not. */
export function checkWebGPU(): { ok: true } | { ok: false; message: string } {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
    const insecure = typeof isSecureContext !== 'undefined' && !isSecureContext;
    return { ok: false, message: insecure ? `WebGPU is only available on secure pages (https:// or http://localhost); this page is not one. ${WEBGPU_HELP}` : `WebGPU is not available in this browser (navigator.gpu is missing). ${WEBGPU_HELP}` };
  }
  if (typeof Worker === 'undefined') return { ok: false, message: 'This browser has no Web Workers, which the engine runs in.' };
  return { ok: true };
}

/** Converts page-side images into what the worker decodes (bitmaps and files are transferred, not copied). */
async function toWorkerImages(images: readonly ImageInput[]): Promise<{ list: WorkerImage[]; transfer: Transferable[] }> {
  const list: WorkerImage[] = [];
  const transfer: Transferable[] = [];
  for (const im of images) {
    if (im instanceof Blob) list.push(im);
    else if (typeof ImageData !== 'undefined' && im instanceof ImageData) {
      const rgb = new Uint8Array(im.width * im.height * 3);
      for (let i = 0, j = 0; i < im.data.length; i += 4, j += 3) {
        rgb[j] = im.data[i];
        rgb[j + 1] = im.data[i + 1];
        rgb[j + 2] = im.data[i + 2];
      }
      list.push({ width: im.width, height: im.height, rgb });
      transfer.push(rgb.buffer);
    } else if ('rgb' in im) list.push(im);
    else {
      if (typeof HTMLVideoElement !== 'undefined' && im instanceof HTMLVideoElement && im.readyState < 2) {
        throw new Error('the <video> has no frame yet (wait for its loadeddata event)');
      }
      const bmp = im instanceof ImageBitmap ? im : await createImageBitmap(im as ImageBitmapSource);
      list.push(bmp);
      transfer.push(bmp);
    }
  }
  return { list, transfer };
}

type Remote = Comlink.Remote<EngineWorker>;

/** The engine worker: one GPUDevice. Most pages use the module-level functions, which share one. */
export class Mnv2Client {
  private remote: Remote;
  private worker: Worker;
  private crash: Promise<never>;
  private crashError: WorkerCrashedError | null = null;
  private lostHandlers = new Set<(info: DeviceLostInfo) => void>();
  private crashHandlers = new Set<(err: WorkerCrashedError) => void>();
  adapter: AdapterSummary | null = null;
  deviceLost: DeviceLostInfo | null = null;

  private constructor(worker: Worker) {
    this.worker = worker;
    this.remote = Comlink.wrap<EngineWorker>(worker);
    this.crash = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (ev: ErrorEvent) => {
        ev.preventDefault();
        const what = ev.message ? `${ev.message}${ev.filename ? ` (${ev.filename.split('/').pop()}:${ev.lineno})` : ''}` : 'the worker script failed to load or threw before starting';
        this.crashError = new WorkerCrashedError(`The engine worker crashed: ${what}. Reload the page to start it again.`);
        for (const h of this.crashHandlers) h(this.crashError);
        reject(this.crashError);
      });
    });
    this.crash.catch(() => {});
  }

  /** Starts the worker and its GPU device. Throws WebGPUUnavailableError with a user-facing message when WebGPU is missing. */
  static async create(opts: { workerUrl?: string | URL } & EngineInitOptions = {}): Promise<Mnv2Client> {
    const check = checkWebGPU();
    if (!check.ok) throw new WebGPUUnavailableError(check.message);
    const worker = opts.workerUrl ? new Worker(opts.workerUrl, { type: 'module' }) : new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    const c = new Mnv2Client(worker);
    try {
      c.adapter = await c.call(() => c.remote.init(opts.maxBindingBytes ? { maxBindingBytes: opts.maxBindingBytes } : undefined));
    } catch (e) {
      c.terminate();
      const msg = e instanceof Error ? e.message : String(e);
      if (/WebGPU|adapter/i.test(msg)) throw new WebGPUUnavailableError(msg);
      throw e;
    }
    await c.remote.onDeviceLost(
      Comlink.proxy((info: DeviceLostInfo) => {
        c.deviceLost = info;
        for (const h of c.lostHandlers) h(info);
      }),
    );
    return c;
  }

  /** Every call races the worker's crash: a dead worker rejects pending calls instead of hanging them. */
  call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.crashError) return Promise.reject(this.crashError);
    return Promise.race([fn(), this.crash]);
  }

  /** Low-level access to the worker's API (tests and advanced pages). */
  get worker_(): Remote {
    return this.remote;
  }

  onDeviceLost(fn: (info: DeviceLostInfo) => void): () => void {
    this.lostHandlers.add(fn);
    return () => this.lostHandlers.delete(fn);
  }

  onCrash(fn: (err: WorkerCrashedError) => void): () => void {
    this.crashHandlers.add(fn);
    return () => this.crashHandlers.delete(fn);
  }

  /** A new GPUDevice after a loss; loaded models are rebuilt, trainers restored to their last trained state. */
  async recover(): Promise<AdapterSummary> {
    this.adapter = await this.call(() => this.remote.recover());
    this.deviceLost = null;
    return this.adapter;
  }

  async loadModel(weights: string | URL | Blob | ArrayBuffer | Uint8Array, opts: { labels?: string | URL; name?: string; onProgress?: (p: LoadProgress) => void } = {}): Promise<Model> {
    const w = typeof weights === 'string' || weights instanceof URL ? absolute(weights) : weights;
    const summary = await this.call(() =>
      // comlink proxies callbacks only as top-level arguments
      this.remote.loadModel(w, { name: opts.name, labels: opts.labels ? absolute(opts.labels) : undefined }, opts.onProgress ? Comlink.proxy(opts.onProgress) : undefined),
    );
    return new Model(this, summary);
  }

  async createTrainer(opts: Omit<TrainerOptions, 'base'> & { base: string | URL | Blob | ArrayBuffer | Uint8Array; onProgress?: (p: LoadProgress) => void }): Promise<Trainer> {
    const { onProgress, ...rest } = opts;
    const base = typeof rest.base === 'string' || rest.base instanceof URL ? absolute(rest.base) : rest.base;
    const summary = await this.call(() => this.remote.createTrainer({ ...rest, base }, onProgress ? Comlink.proxy(onProgress) : undefined));
    return new Trainer(this, summary);
  }

  async classify(modelId: number, images: readonly ImageInput[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    const { list, transfer } = await toWorkerImages(images);
    return this.call(() => this.remote.classify(modelId, Comlink.transfer(list, transfer), opts));
  }

  async timings(): Promise<Record<string, number>> {
    return this.call(() => this.remote.getTimings());
  }

  /**
   * Measures the fastest matmul variant of every product MobileNetV2 runs at this size and batch on
   * this adapter (as `mnv2 tune`), uses it from now on, and keeps it in the Cache API for later visits.
   */
  async tune(opts: { imageSize?: number; batchSize?: number; alpha?: number; budgetSeconds?: number } = {}): Promise<TuneSummary> {
    const r = await this.call(() => this.remote.tune(opts));
    this.adapter = await this.call(() => this.remote.adapterSummary());
    return r;
  }

  async bench(opts: { quick?: boolean } = {}, onRow?: (row: BenchRow) => void): Promise<BenchRow[]> {
    return this.call(() => this.remote.bench(opts, onRow ? Comlink.proxy(onRow) : undefined));
  }

  /** Forgets cached weight downloads (the next load downloads again). */
  async clearCache(): Promise<boolean> {
    return this.call(() => this.remote.clearCache());
  }

  terminate(): void {
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }
}

const absolute = (u: string | URL) => new URL(String(u), typeof location !== 'undefined' ? location.href : undefined).href;

export class Model {
  constructor(
    readonly client: Mnv2Client,
    readonly summary: ModelSummary,
  ) {}
  get labels(): string[] {
    return this.summary.labels;
  }
  classify(images: readonly ImageInput[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    return this.client.classify(this.summary.id, images, opts);
  }
  dispose(): Promise<void> {
    return this.client.call(() => this.client.worker_.disposeModel(this.summary.id));
  }
}

export class Trainer {
  constructor(
    readonly client: Mnv2Client,
    public summary: TrainerSummary,
  ) {}
  private get w() {
    return this.client.worker_;
  }
  private get id() {
    return this.summary.id;
  }
  private async update(p: Promise<TrainerSummary>): Promise<TrainerSummary> {
    this.summary = await this.client.call(() => p);
    return this.summary;
  }
  addClass(name: string) {
    return this.update(this.w.addClass(this.id, name));
  }
  renameClass(index: number, name: string) {
    return this.update(this.w.renameClass(this.id, index, name));
  }
  removeClass(index: number) {
    return this.update(this.w.removeClass(this.id, index));
  }
  setImageSize(size: number) {
    return this.update(this.w.setImageSize(this.id, size));
  }
  clearImages(classIndex?: number) {
    return this.update(this.w.clearImages(this.id, classIndex));
  }
  /** Adds images (files, a folder's files, bitmaps, webcam frames) to a class; returns decode errors by file. */
  async addImages(classIndex: number, images: readonly ImageInput[]): Promise<{ summary: TrainerSummary; errors: string[] }> {
    const { list, transfer } = await toWorkerImages(images);
    const r = await this.client.call(() => this.w.addImages(this.id, classIndex, Comlink.transfer(list, transfer)));
    this.summary = r.summary;
    return r;
  }
  async fit(opts: FitOptions = {}, onEvent?: (ev: TrainEvent) => void): Promise<FitSummary> {
    const r = await this.client.call(() => this.w.fit(this.id, opts, onEvent ? Comlink.proxy(onEvent) : undefined));
    this.summary = await this.client.call(() => this.w.getTrainer(this.id));
    return r;
  }
  evaluate(): Promise<EvaluateResult> {
    return this.client.call(() => this.w.evaluate(this.id));
  }
  /** The trained model as a classify-able Model. */
  async model(): Promise<Model> {
    return new Model(this.client, await this.client.call(() => this.w.trainerModel(this.id)));
  }
  async classify(images: readonly ImageInput[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    return (await this.model()).classify(images, opts);
  }
  /** The trained network as a .safetensors file (Keras names + mnv2 metadata: classes, input size). */
  save(): Promise<Uint8Array> {
    return this.client.call(() => this.w.save(this.id));
  }
  /** Saves and offers the file as a download. */
  async download(fileName = 'mnv2-model.safetensors'): Promise<Blob> {
    return offerDownload(await this.save(), fileName);
  }
  /**
   * The trained network as an ONNX model (the bytes of a .onnx file; float32, opset 13), as
   * `mnv2 export --onnx` writes it. Input 'input' [N,S,S,3] (NHWC; `layout: 'nchw'` for [N,3,S,S]) of RGB
   * resized to the trainer's image size S and scaled to [-1, 1] (x / 127.5 - 1); output 'logits' [N,K]
   * (two classes: [N,1], a sigmoid gives the second class's probability), or 'probabilities' with
   * `softmax`. Class names, input size and layout are in the model's metadata_props.
   */
  saveOnnx(opts: OnnxExportOptions = {}): Promise<Uint8Array> {
    return this.client.call(() => this.w.exportOnnx(this.id, opts));
  }
  /** `saveOnnx` offered as a download. */
  async downloadOnnx(fileName = 'mnv2-model.onnx', opts: OnnxExportOptions = {}): Promise<Blob> {
    return offerDownload(await this.saveOnnx(opts), fileName);
  }
  /**
   * The trained network as a TFLite (LiteRT) model, as `mnv2 export --tflite` writes it: input 'input'
   * [1,S,S,3] in [-1,1] (float32), or with `int8` full-integer int8 calibrated on this trainer's images,
   * its input codes of scale 2/255 (`inputType: 'uint8'`: the raw pixels); output logits (or
   * probabilities with `softmax`).
   */
  saveTflite(opts: TfliteExportOptions = {}): Promise<Uint8Array> {
    return this.client.call(() => this.w.exportTflite(this.id, opts));
  }
  /** `saveTflite` offered as a download. */
  async downloadTflite(fileName = 'mnv2-model.tflite', opts: TfliteExportOptions = {}): Promise<Blob> {
    return offerDownload(await this.saveTflite(opts), fileName);
  }
  /** Loads a model saved by `save()` (or `mnv2 train`): replaces classes, input size and weights. */
  load(weights: string | URL | Blob | ArrayBuffer | Uint8Array, name?: string) {
    const w = typeof weights === 'string' || weights instanceof URL ? absolute(weights) : weights;
    return this.update(this.w.load(this.id, w, name ?? (weights instanceof File ? weights.name : undefined)));
  }
  dispose(): Promise<void> {
    return this.client.call(() => this.w.disposeTrainer(this.id));
  }
}

/** Offers bytes as a file download (a temporary link clicked). */
function offerDownload(bytes: Uint8Array, fileName: string): Blob {
  const blob = new Blob([bytes as BlobPart], { type: 'application/octet-stream' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  return blob;
}

// ---- module-level API over one shared client -------------------------------------------------------

let shared: Promise<Mnv2Client> | null = null;

/** The shared engine client (created on first use). A failed start is not cached: the next call tries again. */
export function getClient(): Promise<Mnv2Client> {
  shared ??= Mnv2Client.create().catch((e: unknown) => {
    shared = null;
    throw e;
  });
  return shared;
}

/** Loads a classifier from a URL/File/bytes: ImageNet MobileNetV2 (.safetensors, .tflite, .onnx, .h5) or a model trained here. */
export async function loadModel(weights: string | URL | Blob | ArrayBuffer | Uint8Array, opts: { labels?: string | URL; name?: string; onProgress?: (p: LoadProgress) => void } = {}): Promise<Model> {
  return (await getClient()).loadModel(weights, opts);
}

/** Top-k classes of each image. */
export function classify(model: Model, images: readonly ImageInput[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
  return model.classify(images, opts);
}

/** A transfer-learning session on an ImageNet base: add classes and images, fit, evaluate, save/load. */
export async function createTrainer(opts: Omit<TrainerOptions, 'base'> & { base: string | URL | Blob | ArrayBuffer | Uint8Array; onProgress?: (p: LoadProgress) => void }): Promise<Trainer> {
  return (await getClient()).createTrainer(opts);
}
