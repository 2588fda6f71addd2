// A loop over batches of one size, the last (or one with undecodable images) smaller: without care
// the pool, which keeps freed buffers by exact size, would make a second set of activation buffers
// for the smaller batch, so peak memory would depend on the dataset size modulo the batch size (and
// freeing the idle set instead churns host memory on software adapters). `BatchReuse` runs a batch
// smaller than the largest so far in the larger batch's idle buffers (`BufferPool.fitLarger`: the
// smallest free buffer that holds each tensor; tensors bind exactly their own bytes), and releases
// the idle set only when a batch grows past the largest. One per engine (`e.batches`), so loops
// that call each other (a CLI loop over `model.predict` calls) agree on the largest batch.
import type { Engine } from './engine.js';

export class BatchReuse {
  private largest = 0;
  constructor(private readonly e: Engine) {}

  /** Call before making a batch's tensors, with the batch's sample count. */
  begin(n: number): void {
    if (this.largest && n > this.largest) this.e.trimPool();
    this.largest = Math.max(this.largest, n);
    this.e.pool.fitLarger = n < this.largest;
  }

  /** The batch's tensors are all made (and released): back to exact-size reuse. */
  end(): void {
    this.e.pool.fitLarger = false;
  }

  /** The batch turned out smaller than announced (undecodable images were dropped). */
  shrunk(n: number): void {
    if (n < this.largest) this.e.pool.fitLarger = true;
  }
}
