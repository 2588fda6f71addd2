// A split's images as GPU batches [B, S, S, 3] f32 in [-1, 1], in one of two modes chosen from a
// byte budget:
//  - cached: every image is decoded once, resized on the GPU (TF bilinear) and kept as packed uint8
//    rows (4x smaller than f32) in pages of at most the binding limit each (`PagedRows`); a batch
//    copies its rows into one staging buffer (copyBufferToBuffer has no binding limit) and converts
//    them to f32 with the model's input scaling (`rowsU8ToF32`);
//  - streaming (the cache would exceed what is left of the budget): images are decoded per batch
//    (the caller prefetches the next batches while the GPU works), resized, quantized to the same
//    uint8 rows and converted the same way.
// Both modes run the same resize → uint8 → f32 chain, so a batch is bit-identical in either mode.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { resizeImages } from '../ops/image/resize.js';
import { CacheBudget, PagedRows, bindingLimitOf, formatBytes } from './paged-rows.js';
import { quantizeRowsU8, rowsU8ToF32, uploadImageSized, wordsPerRow } from './u8-rows.js';

/** An RGB uint8 image of any size (3 bytes per pixel, row-major). */
export interface FitImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** One split of a dataset: labels, and a loader that decodes images by index (null = undecodable, skipped). */
export interface ImageSplitSource {
  readonly labels: readonly number[];
  load(indices: readonly number[]): Promise<(FitImage | null)[]>;
}

export interface ImageBatchesOptions {
  imageSize: number;
  /** Keras `crop_to_aspect_ratio` (default false: the image is stretched, as Keras' default). */
  cropToAspect?: boolean;
  /** Byte budget of this cache when no shared `budget` is given (default 1 GiB; 0 = always stream). */
  cacheBudgetBytes?: number;
  /** A budget shared with other caches of the run (input caches of both splits, feature caches). */
  budget?: CacheBudget;
  /** Largest page of the cache (default and upper bound: the engine's binding limit). */
  maxPageBytes?: number;
  /** Images decoded per load call while filling the cache (default 32). */
  chunk?: number;
}

export interface Batch {
  x: Tensor; // [B, S, S, 3] f32 in [-1, 1]
  labels: number[];
  /** Sample indices that could not be decoded (dropped from this batch). */
  skipped: number[];
}

/** Which path a cache took and why (a `FitEvent` of type 'plan' carries it). */
export interface CachePlan {
  what: 'inputs' | 'features' | 'prefix';
  mode: 'cached' | 'streaming' | 'recompute';
  images: number;
  /** Bytes the cache takes (or would take). */
  bytes: number;
  /** The budget's total and what was free when the choice was made. */
  budgetBytes: number;
  freeBytes: number;
  /** Pages the cache uses (0 when not cached). */
  pages: number;
  pageBytes: number;
}

const fmtInt = (n: number) => n.toLocaleString('en-US');

/** One line for the run log, e.g. `inputs: streaming 30,000 images (2.2 GiB > 512 MiB free of cache budget 512 MiB)`. */
export function describePlan(p: CachePlan): string {
  const budget = `cache budget ${formatBytes(p.budgetBytes)}`;
  const what = p.what === 'inputs' ? 'uint8 inputs' : p.what === 'features' ? 'base features' : 'prefix activations';
  if (p.mode === 'cached') return `caching ${what} of ${fmtInt(p.images)} images: ${formatBytes(p.bytes)} in ${p.pages} page${p.pages === 1 ? '' : 's'} of at most ${formatBytes(p.pageBytes)} (${budget})`;
  const verb = p.mode === 'streaming' ? 'streaming' : `recomputing ${what} of`;
  return `${verb} ${fmtInt(p.images)} images (${p.what === 'inputs' ? 'inputs need ' : ''}${formatBytes(p.bytes)} > ${formatBytes(p.freeBytes)} free of ${budget})`;
}

/** A split's images as GPU batches: cached (resized once, uint8, paged) or decoded per batch. */
export class ImageBatches {
  readonly size: number;
  /** Bytes of one image (S*S*3) and of its packed row (whole u32 words). */
  readonly rowLen: number;
  readonly rowBytes: number;
  private cache: PagedRows | null = null;
  private filled = false;
  private row = new Map<number, number>(); // sample index → cache row
  /** Sample indices that could not be decoded (never in a batch). */
  readonly skipped = new Set<number>();
  readonly cached: boolean;
  readonly plan: CachePlan;
  private readonly budget: CacheBudget;
  private reserved = 0;
  private readonly pageBytes: number;

  constructor(
    private readonly e: Engine,
    readonly source: ImageSplitSource,
    readonly opts: ImageBatchesOptions,
  ) {
    this.size = opts.imageSize;
    this.rowLen = this.size * this.size * 3;
    this.rowBytes = wordsPerRow(this.rowLen) * 4;
    this.pageBytes = Math.min(opts.maxPageBytes ?? Infinity, bindingLimitOf(e));
    this.budget = opts.budget ?? new CacheBudget(opts.cacheBudgetBytes ?? 2 ** 30);
    const n = source.labels.length;
    const bytes = n * this.rowBytes;
    const free = this.budget.free;
    this.cached = n > 0 && this.budget.take(bytes);
    if (this.cached) this.reserved = bytes;
    const rowsPerPage = Math.floor(this.pageBytes / this.rowBytes);
    this.plan = {
      what: 'inputs',
      mode: this.cached ? 'cached' : 'streaming',
      images: n,
      bytes,
      budgetBytes: this.budget.bytes,
      freeBytes: free,
      pages: this.cached ? Math.ceil(n / Math.max(1, rowsPerPage)) : 0,
      pageBytes: Math.min(this.pageBytes, Math.max(1, rowsPerPage) * this.rowBytes),
    };
  }

  get count(): number {
    return this.source.labels.length;
  }

  /** 'cached' or 'streaming'. */
  get mode(): 'cached' | 'streaming' {
    return this.cached ? 'cached' : 'streaming';
  }

  /** Pages the filled cache uses (0 when streaming or not filled yet). */
  get pages(): number {
    return this.cache?.pages.length ?? 0;
  }

  /** Indices of decodable samples (all, until the cache is built or a batch found a bad one). */
  usable(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (!this.skipped.has(i)) out.push(i);
    return out;
  }

  /** Resizes decoded images (raw 0..255) into f32 rows of `tmp` [k, S, S, 3] from row 0. */
  private resizeRaw(imgs: readonly FitImage[], tmp: Tensor): void {
    imgs.forEach((img, j) => {
      if (img.rgb.length !== img.width * img.height * 3) throw new Error(`ImageBatches: an image of ${img.width}x${img.height} needs ${img.width * img.height * 3} RGB bytes, got ${img.rgb.length}`);
      const src = uploadImageSized(this.e, img.rgb);
      resizeImages(this.e, src, { height: this.size, width: this.size, srcShape: [1, img.height, img.width, 3], crop: this.opts.cropToAspect ? 'aspect' : undefined, preprocess: 'none', out: tmp, outIndex: j });
      src.dispose();
    });
  }

  /** Decodes, resizes and stores every image once (no-op when streaming). Yields progress (done, total). */
  async *fill(): AsyncGenerator<{ done: number; total: number }> {
    if (!this.cached || this.filled) return;
    const n = this.count;
    const chunk = this.opts.chunk ?? 32;
    const e = this.e;
    const S = this.size;
    const cache = new PagedRows(e, this.rowBytes, n, this.pageBytes, 'u32', 'input-cache');
    const range = (a: number) => Array.from({ length: Math.min(chunk, n - a) }, (_, i) => a + i);
    let next = n > 0 ? this.source.load(range(0)) : null;
    for (let a = 0; a < n; a += chunk) {
      const imgs = await next!;
      next = a + chunk < n ? this.source.load(range(a + chunk)) : null; // decode ahead while the GPU resizes
      const good: FitImage[] = [];
      imgs.forEach((img, k) => {
        if (img) good.push(img);
        else this.skipped.add(a + k);
      });
      if (good.length) {
        e.tidy(() => {
          const tmp = e.alloc([good.length, S, S, 3], 'f32', 'input-resize');
          this.resizeRaw(good, tmp);
          let j = 0;
          imgs.forEach((img, k) => {
            if (!img) return;
            const slot = cache.append();
            quantizeRowsU8(e, tmp, slot.page, { rows: 1, rowLen: this.rowLen, srcRow: j++, dstRow: slot.index });
            this.row.set(a + k, slot.row);
          });
        });
      }
      await e.sync();
      yield { done: Math.min(a + chunk, n), total: n };
    }
    this.cache = cache;
    this.filled = true;
  }

  /** Starts decoding a batch (streaming mode), for prefetch; pass the promise to `batch`. */
  prefetch(indices: readonly number[]): Promise<(FitImage | null)[]> | null {
    return this.cached ? null : this.source.load(indices);
  }

  /** Packed rows [B rows] → the f32 batch tensor [B, S, S, 3] (in the current tidy scope). */
  private toF32(staged: Tensor, rows: number): Tensor {
    const S = this.size;
    const x = this.e.alloc([rows, S, S, 3]);
    if (rows > 0) rowsU8ToF32(this.e, staged, { rows, rowLen: this.rowLen, out: x });
    return x;
  }

  /** The batch of these sample indices, as a tensor in the current tidy scope. */
  async batch(indices: readonly number[], prefetched?: Promise<(FitImage | null)[]> | null): Promise<Batch> {
    const e = this.e;
    const wpr = wordsPerRow(this.rowLen);
    if (this.cached) {
      if (!this.cache) throw new Error('ImageBatches: call fill() before batch()');
      const keep = indices.filter((i) => this.row.has(i));
      const staged = e.alloc([Math.max(1, keep.length * wpr)], 'u32', 'input-batch-u8');
      this.cache.gather(
        keep.map((i) => this.row.get(i)!),
        staged,
      );
      const x = this.toF32(staged, keep.length);
      staged.dispose();
      return { x, labels: keep.map((i) => this.source.labels[i]), skipped: indices.filter((i) => !this.row.has(i)) };
    }
    const imgs = await (prefetched ?? this.source.load(indices));
    const keep: number[] = [];
    const skipped: number[] = [];
    imgs.forEach((img, k) => (img ? keep.push(k) : (skipped.push(indices[k]), this.skipped.add(indices[k]))));
    const S = this.size;
    const staged = e.alloc([Math.max(1, keep.length * wpr)], 'u32', 'input-batch-u8');
    if (keep.length) {
      e.tidy(() => {
        const tmp = e.alloc([keep.length, S, S, 3], 'f32', 'input-resize');
        this.resizeRaw(
          keep.map((k) => imgs[k]!),
          tmp,
        );
        quantizeRowsU8(e, tmp, staged, { rows: keep.length, rowLen: this.rowLen });
      });
    }
    const x = this.toF32(staged, keep.length);
    staged.dispose();
    return { x, labels: keep.map((k) => this.source.labels[indices[k]]), skipped };
  }

  dispose(): void {
    this.cache?.dispose();
    this.cache = null;
    this.filled = false;
    this.row.clear();
    if (this.reserved) this.budget.give(this.reserved);
    this.reserved = 0;
  }
}
