// Free lists of storage buffers by byte size. Reusing a buffer inside the same command stream is
// safe (WebGPU orders dispatches), so a released buffer is available at once.

const USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = 0;
  /** Bytes of every buffer this pool created and has not destroyed (free lists included). */
  allocatedBytes = 0;
  /** The most `allocatedBytes` has been. */
  peakBytes = 0;
  constructor(private device: GPUDevice) {}

  static round(bytes: number): number {
    return Math.max(16, Math.ceil(bytes / 16) * 16);
  }

  /**
   * When no free buffer has the exact size, take the smallest larger free one instead of allocating.
   * Set while a batch smaller than the ones before runs (an epoch's last, partial batch): it then
   * runs in the full batch's idle buffers, so neither device memory nor host memory (software
   * adapters) grows with the dataset size modulo the batch size, and nothing is freed and re-made.
   */
  fitLarger = false;

  acquire(bytes: number, label?: string): GPUBuffer {
    const size = BufferPool.round(bytes);
    const list = this.free.get(size);
    this.live++;
    const b = list?.pop() ?? (this.fitLarger ? this.smallestFreeAbove(size) : undefined);
    if (b) return b;
    this.allocatedBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.allocatedBytes);
    return this.device.createBuffer({ size, usage: USAGE, label });
  }

  release(buffer: GPUBuffer): void {
    this.live--;
    const list = this.free.get(buffer.size) ?? [];
    list.push(buffer);
    this.free.set(buffer.size, list);
  }

  /** Size of the smallest free buffer larger than `size` (Infinity: none). */
  private largerFree(size: number): number {
    let best = Infinity;
    for (const [k, list] of this.free) if (k > size && k < best && list.length) best = k;
    return best;
  }

  private smallestFreeAbove(size: number): GPUBuffer | undefined {
    const k = this.largerFree(size);
    return k < Infinity ? this.free.get(k)!.pop() : undefined;
  }

  /** Whether a free buffer of this size is waiting (acquiring it allocates nothing). */
  hasFree(bytes: number): boolean {
    const size = BufferPool.round(bytes);
    return (this.free.get(size)?.length ?? 0) > 0 || (this.fitLarger && this.largerFree(size) < Infinity);
  }

  get liveCount(): number {
    return this.live;
  }

  /** Destroys idle buffers (e.g. between training and evaluation). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) (this.allocatedBytes -= b.size), b.destroy();
    this.free.clear();
  }
}
