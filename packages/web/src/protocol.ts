// Types shared by the page-side API (index.ts) and the engine worker (worker.ts). Everything here is
// structured-clone friendly: it crosses the postMessage boundary.

/** An image the worker can decode: an encoded file (JPEG/PNG/BMP/GIF/WebP), a bitmap, or raw RGB bytes. */
export type WorkerImage = Blob | ImageBitmap | RgbPixels;

/** Decoded RGB bytes, 3 per pixel, row-major. */
export interface RgbPixels {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  /** Whether core's 8-lane subgroup matmul path is active on this device. */
  subgroups8: boolean;
  /** Bytes the engine binds per buffer (the device's limit, or the smaller forced one); larger tensors run in pages. */
  bindingLimit: number;
  /** Which matmul variants run: 'tuned for this adapter (N products)' after `tune()` (kept in the Cache API), else 'built-in heuristic'. */
  matmulVariants: string;
}

/** What `Mnv2Client.tune()` measured (see `mnv2 tune`). */
export interface TuneSummary {
  /** Matrix products MobileNetV2 runs at that size and batch, and how many were tuned within the budget. */
  products: number;
  tuned: number;
  /** Sum of the tuned products' times with the heuristic's variant and with the chosen one (ms per run). */
  heuristicMs: number;
  tunedMs: number;
  seconds: number;
}

/** Engine options chosen when the worker starts (kept across `recover()`). */
export interface EngineInitOptions {
  /** Pretend the adapter binds at most this many bytes per buffer (tests: forces the paged paths). */
  maxBindingBytes?: number;
  /**
   * Storage type of network activations: 'f16' halves their memory (arithmetic, weights and logits
   * stay f32); init() fails naming the adapter when it lacks 'shader-f16' (e.g. SwiftShader). Default 'f32'.
   */
  precision?: 'f32' | 'f16';
}

export interface LoadProgress {
  /** 'download' while bytes arrive (or are read from the cache), 'import' while parsing, 'build' while uploading to the GPU. */
  stage: 'download' | 'import' | 'build';
  loaded: number;
  /** Total bytes when the server says (Content-Length), else null. */
  total: number | null;
  fromCache: boolean;
}

export interface ModelSummary {
  id: number;
  kind: 'imagenet' | 'custom';
  /** Format the weights were read from. */
  format: string;
  description: string;
  alpha: number;
  inputSize: number;
  /** Model output labels (for a binary head: the two class names). */
  labels: string[];
  /** Where the weights came from (URL or file name). */
  source: string;
  /** True when the weights came from the Cache API (second visit). */
  fromCache: boolean;
  /** Milliseconds: download (or cache read), import, GPU build. */
  timings: Record<string, number>;
}

export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

export interface ClassifyResult {
  width: number;
  height: number;
  top: Prediction[];
  /** Raw network outputs (before softmax/sigmoid), when asked for. */
  logits?: number[];
  /** Probability of every label. */
  probabilities: number[];
}

export interface ClassifyOptions {
  /** How many classes to return per image (default 5, at most the label count). */
  top?: number;
  /** Return the raw logits too (tests compare them with the Node engine). */
  logits?: boolean;
}

export interface TrainerOptions {
  /** ImageNet MobileNetV2 weights for the base (URL or bytes): .tflite, .safetensors, .onnx or .h5. */
  base: string | ArrayBuffer | Uint8Array | Blob;
  /** File name for messages when `base` is bytes. */
  baseName?: string;
  /** Class names, in label order (more can be added later with `addClass`). */
  classes: string[];
  /** Square input size (default 160; 96 trains fastest). */
  imageSize?: number;
  seed?: number;
}

export interface FitOptions {
  /** Epochs with the base frozen (default 10). */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Fraction of each class held out for validation (default 0: train on everything). */
  validationSplit?: number;
  /** RandomFlip + RandomRotation(0.2) (default false: the head trains on cached base features, fastest). */
  augment?: boolean;
  dropout?: number;
  /** After the frozen epochs, unfreeze base layers with Keras index >= this and train `fineTuneEpochs` more at lr/10. */
  fineTuneAt?: number | null;
  fineTuneEpochs?: number;
  /** Start from a freshly initialised head instead of continuing the current one. */
  reset?: boolean;
  /**
   * GPU memory for this fit's caches (resized images as uint8, then base features), default 512 MiB.
   * Images that do not fit are decoded per batch from the files (which stay on the host) instead.
   */
  cacheBudgetBytes?: number;
}

export type TrainEvent =
  | { type: 'cache'; what: 'inputs' | 'features'; split: 'train' | 'validation'; done: number; total: number }
  | { type: 'batch'; phase: 'train' | 'validation'; stage: 'frozen' | 'fine-tune'; epoch: number; epochs: number; step: number; steps: number; loss: number; seconds: number }
  | { type: 'epoch'; stage: 'frozen' | 'fine-tune'; epoch: number; epochs: number; loss: number; accuracy: number; valLoss: number | null; valAccuracy: number | null; seconds: number }
  | { type: 'phase'; stage: 'frozen' | 'fine-tune'; message: string }
  /** Which path a cache took and why, e.g. 'inputs (train): streaming 2,000 images (…)'. */
  | { type: 'cache-plan'; message: string }
  | { type: 'diverged'; epoch: number; step: number; loss: number };

export interface FitSummary {
  history: { epoch: number; stage: 'frozen' | 'fine-tune'; loss: number; accuracy: number; valLoss: number | null; valAccuracy: number | null; seconds: number }[];
  /** Mean training loss of every step, in order (the live curve). */
  stepLosses: number[];
  seconds: number;
  diverged: boolean;
}

/** How `exportOnnx` / `Trainer.saveOnnx` writes the trained network (defaults as `mnv2 export --onnx`). */
export interface OnnxExportOptions {
  /** Output softmax probabilities ('probabilities') instead of logits ('logits'). Not for two-class (binary, one-logit) models. */
  softmax?: boolean;
  /** 'nhwc' (default: input [N,S,S,3], like Keras) or 'nchw' (input [N,3,S,S], the PyTorch/ONNX convention). */
  layout?: 'nhwc' | 'nchw';
  /** Fold BatchNorm into the convolutions (as tf2onnx does); default keeps BatchNormalization nodes. */
  foldBatchNorm?: boolean;
}

/** How `exportTflite` / `Trainer.saveTflite` writes the trained network (as `mnv2 export --tflite`). */
export interface TfliteExportOptions {
  /** Full-integer int8, calibrated on the trainer's images (default: float32). */
  int8?: boolean;
  /** How many of the trainer's images to calibrate on (default 100, spread over the classes). */
  calibrationSize?: number;
  /** int8 model input: 'int8' (default, as the CLI; pixel − 128) or 'uint8' (raw pixels); scale 2/255. */
  inputType?: 'int8' | 'uint8';
  /** int8 model output type (default 'int8'). */
  outputType?: 'int8' | 'uint8';
  /** Output softmax probabilities (three or more classes). */
  softmax?: boolean;
}

export interface EvaluateResult {
  images: number;
  accuracy: number;
  loss: number;
  /** confusion[true][predicted] */
  confusion: number[][];
}

export interface TrainerSummary {
  id: number;
  classes: string[];
  counts: number[];
  imageSize: number;
  trained: boolean;
  base: ModelSummary;
}

export interface BenchRow {
  op: string;
  shape: string;
  ms: number;
  gflops: number;
  runs: number;
}

/** Sent to the page when the GPU device is lost (driver reset, tab in background too long, destroy()). */
export interface DeviceLostInfo {
  reason: string;
  message: string;
}
