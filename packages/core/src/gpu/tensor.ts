// A tensor is a GPU buffer plus a shape. Activations are NHWC, f32 (or f16 at `--precision f16`:
// storage only, kernels compute in f32, see kernels/src/half.ts). Int tensors hold labels.
import type { Engine } from './engine.js';
import { halfArrayToFloat } from './half.js';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';

/** Bytes per element of a dtype. */
export const bytesPerElement = (d: DType): number => (d === 'f16' ? 2 : 4);

export class Tensor {
  private disposed = false;
  constructor(
    readonly engine: Engine,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType = 'f32',
    /** Where this tensor starts in `buffer` (non-zero only for page views, see Engine.slice). */
    readonly byteOffset = 0,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get bytes(): number {
    return this.size * bytesPerElement(this.dtype);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Same buffer, new shape (sizes must match). */
  reshape(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new Error(`reshape: cannot view [${this.shape}] as [${shape}]`);
    return this.engine.view(this, shape);
  }

  /** The values as f32 (f16 tensors are widened exactly). */
  async read(): Promise<Float32Array> {
    const bytes = await this.engine.readBytes(this.buffer, this.bytes, this.byteOffset);
    return this.dtype === 'f16' ? halfArrayToFloat(new Uint16Array(bytes)) : new Float32Array(bytes);
  }
  async readInt(): Promise<Int32Array> {
    return new Int32Array(await this.engine.readBytes(this.buffer, this.bytes, this.byteOffset));
  }

  /** Returns the buffer to the engine's pool. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.release(this);
  }
}
