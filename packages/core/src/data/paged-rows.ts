// Bounded, paged GPU caches. A cache of fixed-size rows (one per image: packed uint8 pixels, pooled
// features, a prefix activation) is split across several buffers ("pages"), each at most the
// binding limit, so a cache can exceed what one storage binding holds. All caches of a run draw on
// one byte budget (`CacheBudget`); what does not fit is streamed or recomputed instead.
import type { Engine } from '../gpu/engine.js';
import type { Tensor, DType } from '../gpu/tensor.js';

/** One byte budget shared by the caches of a run (input caches of both splits, feature caches). */
export class CacheBudget {
  private used = 0;
  constructor(readonly bytes: number) {
    if (!(bytes >= 0)) throw new Error(`cache budget must be a non-negative number of bytes, got ${bytes}`);
  }
  /** Bytes not yet reserved. */
  get free(): number {
    return Math.max(0, this.bytes - this.used);
  }
  get reserved(): number {
    return this.used;
  }
  /** Reserves `n` bytes when they fit (true), else reserves nothing (false). */
  take(n: number): boolean {
    if (n > this.free) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

/** The largest storage binding of this engine: its forced/page limit when it has one, else the adapter's. */
export function bindingLimitOf(e: Engine): number {
  const forced = (e as unknown as { bindingLimit?: number }).bindingLimit;
  const adapter = e.device.limits.maxStorageBufferBindingSize;
  return typeof forced === 'number' && forced > 0 ? Math.min(forced, adapter) : adapter;
}

/** Human-readable bytes (MiB/GiB, binary). */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(n >= 10 * 2 ** 30 ? 0 : 1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(n >= 10 * 2 ** 20 ? 0 : 1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(0)} KiB`;
  return `${n} B`;
}

/** Fixed-size rows in pages of at most `maxPageBytes` each (rows never straddle pages). */
export class PagedRows {
  readonly pages: Tensor[] = [];
  readonly rowsPerPage: number;
  /** Bytes of one row (a multiple of 4). */
  readonly rowBytes: number;
  private rows = 0;

  constructor(
    private readonly e: Engine,
    rowBytes: number,
    /** Rows the cache will hold (pages are allocated as rows are added). */
    readonly capacity: number,
    maxPageBytes: number,
    readonly dtype: DType,
    readonly label: string,
  ) {
    if (!Number.isInteger(rowBytes) || rowBytes <= 0 || rowBytes % 4) throw new Error(`PagedRows: row bytes must be a positive multiple of 4, got ${rowBytes}`);
    this.rowBytes = rowBytes;
    this.rowsPerPage = Math.floor(maxPageBytes / rowBytes);
    if (this.rowsPerPage < 1) throw new Error(`PagedRows (${label}): one row takes ${formatBytes(rowBytes)} but a page holds at most ${formatBytes(maxPageBytes)}`);
  }

  /** Bytes all `capacity` rows take. */
  static bytesFor(rowBytes: number, capacity: number): number {
    return rowBytes * capacity;
  }

  /** Pages needed for `capacity` rows. */
  get pageCount(): number {
    return Math.ceil(this.capacity / this.rowsPerPage);
  }

  get length(): number {
    return this.rows;
  }

  /** Where row `r` lives: its page and its index inside that page. */
  locate(r: number): { page: Tensor; index: number } {
    if (!(r >= 0 && r < this.rows)) throw new Error(`PagedRows (${this.label}): row ${r} out of range (0..${this.rows - 1})`);
    return { page: this.pages[Math.floor(r / this.rowsPerPage)], index: r % this.rowsPerPage };
  }

  /** Appends one row slot (allocating a page when needed); returns where to write it. */
  append(): { row: number; page: Tensor; index: number } {
    if (this.rows >= this.capacity) throw new Error(`PagedRows (${this.label}): full (${this.capacity} rows)`);
    const p = Math.floor(this.rows / this.rowsPerPage);
    if (p === this.pages.length) {
      const n = Math.min(this.rowsPerPage, this.capacity - p * this.rowsPerPage);
      this.pages.push(this.e.allocPersistent([(n * this.rowBytes) / 4], this.dtype, `${this.label}-page${p}`));
    }
    const row = this.rows++;
    return { row, page: this.pages[p], index: row % this.rowsPerPage };
  }

  /** Copies rows `rows[k]` to row k (+ dstRow) of `dst` (runs of consecutive rows in one copy). */
  gather(rows: readonly number[], dst: Tensor, dstRow = 0): void {
    const rb = this.rowBytes;
    let k = 0;
    while (k < rows.length) {
      const { page, index } = this.locate(rows[k]);
      let run = 1;
      while (k + run < rows.length && rows[k + run] === rows[k] + run && index + run < this.rowsPerPage) run++;
      this.e.copy(page, dst, run * rb, index * rb, (dstRow + k) * rb);
      k += run;
    }
  }

  dispose(): void {
    for (const p of this.pages) p.dispose();
    this.pages.length = 0;
    this.rows = 0;
  }
}
