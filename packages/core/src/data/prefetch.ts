// Batches decoded ahead of the one on the GPU (streaming mode): `depth` loads in flight, started in
// order, each awaited by `ImageBatches.batch`. A no-op for a cached split (its `prefetch` is null).
import type { ImageBatches } from './image-batches.js';

type Loaded = ReturnType<ImageBatches['prefetch']>;

/** Walks batches `from..end-1` of a split (`slice(s)` = the sample indices of batch s), `depth` ahead. */
export class Prefetcher {
  private pending = new Map<number, Loaded>();
  private next: number;
  constructor(
    private readonly d: ImageBatches,
    private readonly slice: (s: number) => number[],
    from: number,
    private readonly end: number,
    private readonly depth: number,
  ) {
    this.next = from;
  }
  /** The load of batch `s` (started earlier when possible); starts the following ones. */
  take(s: number): Loaded {
    this.startUpTo(s + 1);
    const p = this.pending.get(s) ?? null;
    this.pending.delete(s);
    this.startUpTo(s + 1 + this.depth);
    return p;
  }
  private startUpTo(stop: number): void {
    for (; this.next < Math.min(stop, this.end); this.next++) {
      const p = this.d.prefetch(this.slice(this.next));
      p?.catch(() => undefined); // awaited (and reported) by `batch`; never an unhandled rejection
      this.pending.set(this.next, p);
    }
  }
  /** Lets pending decodes finish (before returning early). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending.values()].filter((p) => p));
    this.pending.clear();
  }
}

export type PrefetchedLoad = Loaded;
