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

  acquire(bytes: number, label?: string): GPUBuffer {
    const size = BufferPool.round(bytes);
    const list = this.free.get(size);
    this.live++;
    const b = list?.pop();
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

  /** Whether a free buffer of this size is waiting (acquiring it allocates nothing). */
  hasFree(bytes: number): boolean {
    return (this.free.get(BufferPool.round(bytes))?.length ?? 0) > 0;
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
