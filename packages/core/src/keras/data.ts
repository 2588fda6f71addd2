/// <reference lib="esnext.disposable" />
// tf.data-shaped image datasets for the Keras API: a list of samples (labels + an image loader),
// batched. `take`/`skip` work in batches as tf.data's do after `.batch()`; the sample order is fixed
// (the training order is reshuffled per epoch by `fit`, seeded). GPU input caches (resized images)
// are built by `fit`/`evaluate` on first use and kept until `dispose()`.
import type { Engine } from '../gpu/engine.js';
import { ImageBatches, CacheBudget, type FitImage, type ImageSplitSource } from '../train/fit.js';
import { memoryImageSource } from '../data/cifar10.js';

/** Options of an {@link ImageDataset}. */
export interface ImageDatasetOptions {
  /** Samples per batch (Keras `batch_size`), default 32. */
  batchSize?: number;
  /** Class names, index = label. */
  classNames?: readonly string[];
  /** `[height, width]` the images are resized to (Keras `image_size`); must be square and equal the model input. Omit to follow the model. */
  imageSize?: readonly [number, number];
  /** Keras `label_mode`: 'int' (default) or 'binary'. Both are class indices here; the loss decides their encoding. */
  labelMode?: 'int' | 'binary';
  /** Keras `crop_to_aspect_ratio` (default false: stretched). */
  cropToAspectRatio?: boolean;
  /** For messages. */
  name?: string;
  /**
   * Byte budget of the GPU input cache (uint8, paged), shared with other datasets/caches made with
   * the same budget; a dataset that does not fit what is left streams (decodes per batch). Default:
   * a budget of its own of 1 GiB.
   */
  cacheBudget?: CacheBudget;
}

/** One batch read on the host: decoded images (original sizes) and labels. */
export interface HostBatch {
  images: FitImage[];
  labels: number[];
}

/** A batched, finite image dataset (tf.data `Dataset` of `(images, labels)` after `.batch()`). */
export class ImageDataset {
  readonly batchSize: number;
  readonly classNames: readonly string[];
  readonly imageSize: readonly [number, number] | null;
  readonly labelMode: 'int' | 'binary';
  readonly cropToAspectRatio: boolean;
  readonly name: string;
  readonly cacheBudget: CacheBudget | undefined;
  /** Batches decoded ahead while streaming (`prefetch(n)`; default 2, AUTOTUNE = -1 keeps it). */
  prefetchBatches = 2;
  /** Sample indices into `source`, in dataset order. */
  private readonly indices: readonly number[];
  private readonly caches = new Map<Engine, Map<number, ImageBatches>>();
  private disposed = false;

  constructor(
    /** Where samples come from (labels + loader). */
    readonly source: ImageSplitSource,
    opts: ImageDatasetOptions = {},
    indices?: readonly number[],
  ) {
    const b = opts.batchSize ?? 32;
    if (!Number.isInteger(b) || b < 1) throw new Error(`dataset: batchSize must be a positive integer, got ${b}`);
    if (opts.imageSize && (opts.imageSize.length !== 2 || opts.imageSize[0] !== opts.imageSize[1])) throw new Error(`dataset: imageSize must be square [size, size], got [${opts.imageSize.join(', ')}]`);
    this.batchSize = b;
    this.classNames = opts.classNames ?? [];
    this.imageSize = opts.imageSize ? [opts.imageSize[0], opts.imageSize[1]] : null;
    this.labelMode = opts.labelMode ?? 'int';
    this.cropToAspectRatio = opts.cropToAspectRatio ?? false;
    this.name = opts.name ?? 'dataset';
    this.cacheBudget = opts.cacheBudget;
    this.indices = indices ?? Array.from({ length: source.labels.length }, (_, i) => i);
  }

  private options(): ImageDatasetOptions {
    return { batchSize: this.batchSize, classNames: this.classNames, imageSize: this.imageSize ?? undefined, labelMode: this.labelMode, cropToAspectRatio: this.cropToAspectRatio, name: this.name, cacheBudget: this.cacheBudget };
  }

  /** Number of samples. */
  get size(): number {
    return this.indices.length;
  }

  /** Labels of the samples, in order. */
  get labels(): number[] {
    return this.indices.map((i) => this.source.labels[i]);
  }

  /** Number of batches (tf.data `cardinality()`). */
  cardinality(): number {
    return Math.ceil(this.indices.length / this.batchSize);
  }

  /** The first `n` batches (tf.data `take(n)`). */
  take(n: number): ImageDataset {
    this.checkCount('take', n);
    return new ImageDataset(this.source, this.options(), this.indices.slice(0, n * this.batchSize));
  }

  /** All but the first `n` batches (tf.data `skip(n)`). */
  skip(n: number): ImageDataset {
    this.checkCount('skip', n);
    return new ImageDataset(this.source, this.options(), this.indices.slice(n * this.batchSize));
  }

  /** The same samples in batches of `batchSize` (tf.data `unbatch().batch(n)`). */
  rebatch(batchSize: number): ImageDataset {
    return new ImageDataset(this.source, { ...this.options(), batchSize }, this.indices);
  }

  /**
   * tf.data `prefetch(n)`: returns this dataset. Decoding ahead is built in: while one batch runs
   * on the GPU the next `n` are decoded (default 2; omitted or AUTOTUNE = -1 keeps it), and datasets
   * that fit the cache budget are cached on the GPU (uint8, paged) after one pass.
   */
  prefetch(bufferSize?: number): this {
    if (bufferSize !== undefined && bufferSize >= 0) {
      if (!Number.isInteger(bufferSize)) throw new Error(`dataset.prefetch: bufferSize must be a non-negative integer (batches), got ${bufferSize}`);
      this.prefetchBatches = bufferSize;
    }
    return this;
  }

  /**
   * tf.data `cache()`: the same samples, their resized images kept on the GPU between epochs (uint8,
   * in pages of at most the binding limit) within `budget`: bytes (a budget of its own) or a
   * `CacheBudget` shared with other datasets and the feature caches of a run. Without an argument
   * the dataset's budget stays (caching within it is already the default). Whatever does not fit
   * streams, decoded per batch ahead of the GPU; `cache(0)` always streams. Same batches either way.
   */
  cache(budget?: number | CacheBudget): ImageDataset {
    if (typeof budget === 'number' && !(budget >= 0)) throw new Error(`dataset.cache: budget must be a byte count >= 0 or a CacheBudget, got ${budget}`);
    const b = budget === undefined ? this.cacheBudget : typeof budget === 'number' ? new CacheBudget(budget) : budget;
    const ds = new ImageDataset(this.source, { ...this.options(), cacheBudget: b }, this.indices);
    ds.prefetchBatches = this.prefetchBatches;
    return ds;
  }

  private checkCount(op: string, n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new Error(`dataset.${op}: n must be a non-negative integer (batches), got ${n}`);
  }

  /** The split source of these samples (a view on `source`). */
  splitSource(): ImageSplitSource {
    const src = this.source;
    const idx = this.indices;
    if (idx.length === src.labels.length && idx.every((v, i) => v === i)) return src;
    return { labels: idx.map((i) => src.labels[i]), load: (ids) => src.load(ids.map((i) => idx[i])) };
  }

  /**
   * GPU batches of this dataset at `size` (cached per engine and size until {@link dispose}). Used by
   * `Model.fit`/`evaluate`/`predict`.
   */
  batchesFor(e: Engine, size: number): ImageBatches {
    if (this.disposed) throw new Error(`dataset '${this.name}' was disposed`);
    if (this.imageSize && this.imageSize[0] !== size) throw new Error(`dataset '${this.name}' has imageSize [${this.imageSize.join(', ')}] but the model input is ${size}x${size}: make the dataset with imageSize [${size}, ${size}]`);
    let perEngine = this.caches.get(e);
    if (!perEngine) this.caches.set(e, (perEngine = new Map()));
    let b = perEngine.get(size);
    if (!b) {
      b = new ImageBatches(e, this.splitSource(), { imageSize: size, cropToAspect: this.cropToAspectRatio, budget: this.cacheBudget });
      perEngine.set(size, b);
    }
    return b;
  }

  /** Iterates batches on the host: `for await (const { images, labels } of ds)` (tf.data `as_numpy_iterator`). */
  async *[Symbol.asyncIterator](): AsyncGenerator<HostBatch> {
    for (let a = 0; a < this.indices.length; a += this.batchSize) {
      const ids = this.indices.slice(a, a + this.batchSize);
      const imgs = await this.source.load(ids);
      const images: FitImage[] = [];
      const labels: number[] = [];
      imgs.forEach((img, k) => {
        if (img) {
          images.push(img);
          labels.push(this.source.labels[ids[k]]);
        }
      });
      yield { images, labels };
    }
  }

  /** The first batch on the host (`next(iter(ds))`). */
  async firstBatch(): Promise<HostBatch> {
    for await (const b of this) return b;
    return { images: [], labels: [] };
  }

  /** Frees the GPU input caches (the dataset stays usable; caches are rebuilt on next use). */
  releaseCaches(): void {
    for (const m of this.caches.values()) for (const b of m.values()) b.dispose();
    this.caches.clear();
  }

  /** Frees GPU caches; the dataset cannot be used on the GPU afterwards. Safe to call twice. */
  dispose(): void {
    this.releaseCaches();
    this.disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * A dataset of in-memory images (any sizes, RGB bytes) and integer labels, e.g. CIFAR-10 records
 * (Keras `tf.data.Dataset.from_tensor_slices((x, y)).batch(n)`).
 */
export function datasetFromImages(images: readonly FitImage[], labels: readonly number[], opts: ImageDatasetOptions = {}): ImageDataset {
  return new ImageDataset(memoryImageSource(images, labels), opts);
}
