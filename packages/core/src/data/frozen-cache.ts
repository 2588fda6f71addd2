// What the frozen part of the network computes from each image, cached once per image in paged rows
// (no buffer above the binding limit) under the run's byte budget: the pooled base output [1, 1, C]
// ('features', whole base frozen) or the activation entering the first trainable block ('prefix').
// Only valid without augmentation (the frozen part is then a fixed function of the image). Above
// the budget nothing is cached and the caller recomputes per batch (`mode: 'recompute'`).
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import type { CachePlan, ImageBatches } from './image-batches.js';
import { CacheBudget, PagedRows } from './paged-rows.js';
import { Prefetcher } from './prefetch.js';

type Split = 'train' | 'validation';

interface SplitRows {
  rows: PagedRows | null;
  index: Map<number, number>; // sample index → cache row
}

export class FrozenCache {
  readonly plan: CachePlan;
  private readonly rowBytes: number;
  private reserved = 0;
  private readonly splits: Record<Split, SplitRows> = { train: { rows: null, index: new Map() }, validation: { rows: null, index: new Map() } };

  /** Takes the cache's bytes from `budget` when they fit (then `cached`), else plans recomputation. */
  constructor(
    private readonly e: Engine,
    private readonly budget: CacheBudget,
    readonly kind: 'features' | 'prefix',
    /** Shape of one image's row. */
    readonly rowShape: readonly number[],
    /** Usable images of the training and validation splits. */
    counts: readonly [number, number],
    private readonly pageBytes: number,
  ) {
    this.rowBytes = rowShape.reduce((a, b) => a * b, 1) * 4;
    const images = counts[0] + counts[1];
    const bytes = images * this.rowBytes;
    const free = budget.free;
    const cached = budget.take(bytes);
    if (cached) this.reserved = bytes;
    const perPage = Math.max(1, Math.floor(pageBytes / this.rowBytes));
    this.plan = {
      what: kind,
      mode: cached ? 'cached' : 'recompute',
      images,
      bytes,
      budgetBytes: budget.bytes,
      freeBytes: free,
      pages: cached ? counts.reduce((a, c) => a + Math.ceil(c / perPage), 0) : 0,
      pageBytes: Math.min(pageBytes, perPage * this.rowBytes),
    };
  }

  get cached(): boolean {
    return this.plan.mode === 'cached';
  }

  /** `compute(x)` of every usable image of a split, once, into its rows; yields progress per batch. */
  async *build(data: ImageBatches, split: Split, o: { batchSize: number; prefetch: number }, compute: (x: Tensor) => Tensor): AsyncGenerator<{ done: number; total: number; pages?: number }> {
    const e = this.e;
    const rowBytes = this.rowBytes;
    const idx = data.usable();
    const rows = new PagedRows(e, rowBytes, idx.length, this.pageBytes, 'f32', `${this.kind}-${split}`);
    const out = this.splits[split];
    out.rows = rows;
    const steps = Math.ceil(idx.length / o.batchSize);
    const slice = (s: number) => idx.slice(s * o.batchSize, (s + 1) * o.batchSize);
    const pre = new Prefetcher(data, slice, 0, steps, o.prefetch);
    for (let s = 0; s < steps; s++) {
      const ids = slice(s);
      const b = await data.batch(ids, pre.take(s));
      const kept = ids.filter((i) => !b.skipped.includes(i));
      if (kept.length) {
        e.tidy(() => {
          const f = compute(b.x);
          if (f.size !== kept.length * (rowBytes / 4)) throw new Error(`fit: frozen output [${f.shape}] does not match the cache rows [${this.rowShape}]`);
          kept.forEach((i, k) => {
            const slot = rows.append();
            e.copy(f, slot.page, rowBytes, k * rowBytes, slot.index * rowBytes);
            out.index.set(i, slot.row);
          });
        });
      }
      b.x.dispose();
      await e.sync();
      const done = Math.min((s + 1) * o.batchSize, idx.length);
      yield { done, total: idx.length, ...(done === idx.length ? { pages: rows.pages.length } : {}) };
    }
  }

  /** The cached rows of these samples as one tensor [ids.length, ...rowShape]. */
  gather(split: Split, ids: readonly number[]): Tensor {
    const f = this.splits[split];
    if (!f.rows) throw new Error(`fit: the ${split} split's ${this.kind} cache was not built`);
    const x = this.e.alloc([ids.length, ...this.rowShape]);
    f.rows.gather(
      ids.map((i) => f.index.get(i)!),
      x,
    );
    return x;
  }

  dispose(): void {
    for (const s of Object.values(this.splits)) s.rows?.dispose();
    if (this.reserved) this.budget.give(this.reserved);
    this.reserved = 0;
  }
}
