// The engine wraps an injected GPUDevice (Node: the `webgpu` package; browsers: navigator.gpu).
// It compiles kernel specs into cached pipelines, records every dispatch into ONE compute pass of
// ONE command encoder until something must be read back (one submit per forward/backward: dispatch
// and submit overheads dominate on software adapters), and owns the buffer pool and scopes.
import { type Kernel, type UniformSchema, type BindingSchema, type UniformValues, packUniforms, bindingAccess } from '@mnv2/kernels';
import { BufferPool } from './buffer-pool.js';
import { BatchReuse } from './batch-reuse.js';
import { Tensor, bytesPerElement, type DType } from './tensor.js';
import { DeviceLimitError, DeviceLostError, GpuValidationError, DeviceMemoryError, PrecisionError } from './errors.js';
import { floatArrayToHalf } from './half.js';

/** Storage type of activations: f32, or f16 (half the bytes, arithmetic still in f32; needs 'shader-f16'). */
export type Precision = 'f32' | 'f16';

export interface EngineOptions {
  /**
   * Waits for a GPU promise. Node injects a wait that lets the main thread sleep (awaiting the
   * `webgpu` package's promises busy-spins a core that the software adapter needs); browsers await.
   */
  wait?: <T>(p: Promise<T>) => Promise<T>;
  /**
   * Pretend the adapter binds at most this many bytes per storage buffer (default: the device's
   * `maxStorageBufferBindingSize`; only a smaller value has an effect). Tests force e.g. 1 MiB so
   * every paged code path (tensors split into pages of whole samples, see ops/paging.ts) runs on
   * tiny shapes. The CLI reads it from MNV2_MAX_BINDING_BYTES.
   */
  maxBindingBytes?: number;
  /**
   * Device memory available to this engine in bytes (WebGPU does not report it). When set, an
   * allocation that would take the engine's buffers above it fails with a DeviceMemoryError
   * instead of a driver failure. The CLI sets it from MNV2_DEVICE_MEMORY (tests) or, on software
   * adapters, from the host's memory.
   */
  deviceMemoryBytes?: number;
  /**
   * Storage type of the activations of networks built on this engine (default 'f32'). 'f16' needs
   * the device feature 'shader-f16' (requested by the CLI and the web worker when the adapter has
   * it): without it the constructor throws a PrecisionError naming the adapter.
   */
  precision?: Precision;
  /** The adapter's name, for messages (e.g. the precision error). */
  adapterName?: string;
}

/** Counters of the paged paths (tests assert that splitting actually happened). */
export interface PagingStats {
  /** Op calls whose tensors did not fit one binding and ran in pages. */
  pagedOps: number;
  /** Pages run by those calls, in all. */
  pages: number;
}

interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const MAX_CACHED_UNIFORMS = 16384;
/** Bind groups kept (a training step with paging records a few thousand dispatches). */
const MAX_CACHED_BIND_GROUPS = 8192;
const U_USAGE = 0x40 /* UNIFORM */ | 0x08; /* COPY_DST */

export class Engine {
  readonly pool: BufferPool;
  /** Batch loops announce each batch here, so a smaller batch runs in the larger ones' idle buffers (see BatchReuse). */
  readonly batches: BatchReuse;
  private pipelines = new Map<string, CompiledKernel>();
  private uniforms = new Map<string, GPUBuffer>();
  /**
   * Bind groups by (layout, uniform buffer, bound ranges): a layer binds the same pooled buffers at
   * every step, and creating a bind group costs ~50 µs of main-thread time in Dawn's Node bindings
   * (as much as a small kernel on a software adapter). Keys use object identities, never reused, so
   * an entry for a destroyed buffer can only go stale, not be hit; LRU-bounded, cleared on trim.
   */
  private bindGroups = new Map<string, GPUBindGroup>();
  private objectIds = new WeakMap<object, number>();
  private nextObjectId = 1;
  /**
   * Write stamps per buffer: every dispatch that binds a buffer writable, copy into it, host write
   * or (re)acquisition from the pool stamps it with a new clock value, so a cache of something
   * derived from tensors (folded BatchNorm) can tell whether they changed since (`stamp`).
   */
  private stamps = new WeakMap<GPUBuffer, number>();
  private clock = 0;
  private writable = new WeakMap<object, readonly string[]>();
  /** Bind groups created and reused since creation (for benchmarks and tests). */
  readonly bindGroupStats = { created: 0, reused: 0 };
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private scopes: Set<Tensor>[] = [];
  private lostInfo: { reason: string; message: string } | null = null;
  private firstError: string | null = null;
  private readonly wait: <T>(p: Promise<T>) => Promise<T>;
  /** Dispatches recorded since creation (for benchmarks and tests). */
  dispatchCount = 0;
  /** Largest storage-buffer binding in bytes (the device's limit, or the smaller forced one). */
  readonly bindingLimit: number;
  /** Whether bindingLimit is a forced (test) value below the device's. */
  readonly bindingLimitForced: boolean;
  /** Alignment of a binding's offset (page views start at multiples of it). */
  readonly offsetAlignment: number;
  /** Largest single buffer the device creates. */
  readonly maxBufferBytes: number;
  readonly deviceMemoryBytes: number | undefined;
  readonly paging: PagingStats = { pagedOps: 0, pages: 0 };
  /** Storage type of network activations (EngineOptions.precision). */
  readonly precision: Precision;
  readonly adapterName: string | undefined;

  constructor(
    readonly device: GPUDevice,
    opts: EngineOptions = {},
  ) {
    this.pool = new BufferPool(device);
    this.batches = new BatchReuse(this);
    this.wait = opts.wait ?? ((p) => p);
    const lim = device.limits;
    const forced = opts.maxBindingBytes;
    if (forced !== undefined && !(Number.isInteger(forced) && forced >= 1024)) {
      throw new Error(`maxBindingBytes must be an integer number of bytes >= 1024, got ${forced}`);
    }
    this.bindingLimit = Math.min(lim.maxStorageBufferBindingSize, forced ?? Infinity);
    this.bindingLimitForced = this.bindingLimit < lim.maxStorageBufferBindingSize;
    this.offsetAlignment = lim.minStorageBufferOffsetAlignment || 256;
    this.maxBufferBytes = lim.maxBufferSize;
    this.deviceMemoryBytes = opts.deviceMemoryBytes;
    this.precision = opts.precision ?? 'f32';
    if (this.precision !== 'f32' && this.precision !== 'f16') throw new PrecisionError(`precision must be 'f32' or 'f16', got '${String(this.precision)}'`);
    this.adapterName = opts.adapterName;
    if (this.precision === 'f16') this.requireF16();
    device.lost.then((info) => {
      this.lostInfo = { reason: String(info.reason), message: info.message };
    });
    // Validation errors surface at the next dispatch/read instead of being lost in the console.
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.firstError ??= ev.error?.message ?? String(ev.error);
    };
  }

  /** Whether the device can store tensors as f16 (feature 'shader-f16'). */
  get hasF16(): boolean {
    return this.device.features.has('shader-f16');
  }

  /** Throws a PrecisionError naming the adapter unless the device has 'shader-f16'. */
  requireF16(): void {
    if (this.device.features.has('shader-f16')) return;
    const info = (this.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const name = this.adapterName ?? ([info?.vendor, info?.architecture, info?.description].filter((x) => x).join(' / ') || 'this adapter');
    throw new PrecisionError(
      `--precision f16 needs the WebGPU feature 'shader-f16', which the adapter '${name || 'unknown'}' does not offer (or the device was created without it): use --precision f32`,
    );
  }

  /** Throws if the device was lost or a WebGPU validation error was reported. */
  checkHealthy(): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message);
    if (this.firstError) {
      const m = this.firstError;
      this.firstError = null;
      throw new GpuValidationError(m);
    }
  }

  // ---- pipelines -------------------------------------------------------------------------------

  compile<U extends UniformSchema, B extends BindingSchema, C>(kernel: Kernel<U, B, C>, cfg: C, half: readonly string[] = []): CompiledKernel {
    const key = kernel.cacheKey(cfg, half);
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    if (half.length) this.requireF16();
    const storage = kernel.bindingNames.length;
    if (storage > this.device.limits.maxStorageBuffersPerShaderStage) {
      throw new DeviceLimitError(kernel.name, storage, this.device.limits.maxStorageBuffersPerShaderStage);
    }
    const code = kernel.source(cfg, half);
    const module = this.device.createShaderModule({ code, label: kernel.name });
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: 'uniform' } },
      ...kernel.bindingNames.map((n, i) => ({
        binding: i + 1,
        visibility: 4,
        buffer: { type: bindingAccess(kernel as unknown as Kernel, n) === 'read' ? 'read-only-storage' : 'storage' } as GPUBufferBindingLayout,
      })),
    ];
    const layout = this.device.createBindGroupLayout({ entries, label: kernel.name });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
      label: key,
    });
    const compiled = { pipeline, layout };
    this.pipelines.set(key, compiled);
    return compiled;
  }

  private uniformBuffer(kernel: Kernel, values: Record<string, unknown>): GPUBuffer {
    const bytes = packUniforms(kernel.name, kernel.layout, values);
    // Layers repeat their shapes every step: cache uniform buffers by content, written once.
    const key = kernel.name + ':' + Array.from(new Uint32Array(bytes)).join(',');
    let buf = this.uniforms.get(key);
    if (buf) {
      // LRU order: re-insert on hit so per-step values (Adam's alpha) evict only stale entries.
      this.uniforms.delete(key);
      this.uniforms.set(key, buf);
    } else {
      if (this.uniforms.size >= MAX_CACHED_UNIFORMS) this.evictUniforms(MAX_CACHED_UNIFORMS / 4);
      buf = this.device.createBuffer({ size: bytes.byteLength, usage: U_USAGE, mappedAtCreation: true, label: kernel.name });
      new Uint8Array(buf.getMappedRange()).set(new Uint8Array(bytes));
      buf.unmap();
      this.uniforms.set(key, buf);
    }
    return buf;
  }

  private evictUniforms(count: number): void {
    this.flush(); // destroy is deferred by WebGPU until submitted work using the buffers completes
    this.bindGroups.clear(); // entries naming the destroyed buffers could never be hit again
    for (const [k, b] of this.uniforms) {
      if (count-- <= 0) break;
      b.destroy();
      this.uniforms.delete(k);
    }
  }

  // ---- recording -------------------------------------------------------------------------------

  private computePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  private commandEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Records one dispatch of `kernel` with the given storage bindings and uniform values. */
  dispatch<U extends UniformSchema, B extends BindingSchema, C>(
    kernel: Kernel<U, B, C>,
    cfg: C,
    buffers: { [K in keyof B]: Tensor | GPUBuffer },
    uniforms: UniformValues<U>,
    workgroups: readonly [number, number?, number?],
  ): void {
    this.checkHealthy();
    // f16 tensors are bound as f16 arrays: the kernel's source is generated for exactly these bindings.
    const half = kernel.bindingNames.filter((n) => {
      const b = buffers[n];
      return b instanceof Tensor && b.dtype === 'f16';
    });
    const { pipeline, layout } = this.compile(kernel, cfg, half);
    const ub = this.uniformBuffer(kernel as unknown as Kernel, uniforms as Record<string, unknown>);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ub } }];
    let key = `${this.idOf(layout)}|${this.idOf(ub)}`;
    kernel.bindingNames.forEach((n, i) => {
      const b = buffers[n];
      if (!b) throw new Error(`${kernel.name}: binding '${n}' is missing`);
      if (b instanceof Tensor) {
        if (b.isDisposed) throw new Error(`${kernel.name}: binding '${n}' uses a disposed tensor`);
        if (b.bytes > this.bindingLimit) {
          throw new Error(
            `${kernel.name}: binding '${n}' is tensor [${b.shape}] of ${mib(b.bytes)} but this adapter binds at most ${mib(this.bindingLimit)} ` +
              (this.bindingLimitForced
                ? 'per buffer (forced by maxBindingBytes / MNV2_MAX_BINDING_BYTES: it must still hold the largest weight, e.g. 5 MiB for the 1000-class head)'
                : 'per buffer, and the op that dispatched it does not split its tensors into pages (a bug: please report it)'),
          );
        }
        // Every tensor binds exactly its own bytes: page views their range, and a tensor may sit in a
        // larger pooled buffer (a partial batch reusing the full batch's buffers, see BufferPool.fitLarger).
        // (an f16 tensor of odd length binds 2 bytes more: binding sizes are multiples of 4, the buffer has them)
        const resource = b.bytes > 0 ? { buffer: b.buffer, offset: b.byteOffset, size: Math.ceil(b.bytes / 4) * 4 } : { buffer: b.buffer };
        entries.push({ binding: i + 1, resource });
        key += `|${this.idOf(b.buffer)}@${resource.offset ?? 0}+${resource.size ?? -1}`;
      } else {
        entries.push({ binding: i + 1, resource: { buffer: b } });
        key += `|${this.idOf(b)}`;
      }
    });
    const [x, y = 1, z = 1] = workgroups;
    if (x <= 0 || y <= 0 || z <= 0) return; // nothing to do (empty tensor)
    let w = this.writable.get(kernel);
    if (!w) this.writable.set(kernel, (w = kernel.bindingNames.filter((n) => bindingAccess(kernel as unknown as Kernel, n) !== 'read')));
    for (const n of w) {
      const b = buffers[n];
      this.touch(b instanceof Tensor ? b.buffer : (b as GPUBuffer));
    }
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.bindGroup(key, layout, entries));
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
  }

  private touch(b: GPUBuffer): void {
    this.stamps.set(b, ++this.clock);
  }

  /**
   * The write stamp of `t`'s buffer: it changes whenever anything may have written the buffer
   * (recorded dispatch binding it writable, copy, write, upload, reuse from the pool).
   */
  stamp(t: Tensor): number {
    return this.stamps.get(t.buffer) ?? 0;
  }

  /** Takes tensors out of every tidy scope: they live until disposed (caches held by layers). */
  persist(...ts: Tensor[]): void {
    for (const t of ts) for (const s of this.scopes) s.delete(t);
  }

  private idOf(o: object): number {
    let id = this.objectIds.get(o);
    if (id === undefined) this.objectIds.set(o, (id = this.nextObjectId++));
    return id;
  }

  private bindGroup(key: string, layout: GPUBindGroupLayout, entries: GPUBindGroupEntry[]): GPUBindGroup {
    let g = this.bindGroups.get(key);
    if (g) {
      this.bindGroups.delete(key); // LRU order
      this.bindGroupStats.reused++;
    } else {
      if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) {
        let drop = MAX_CACHED_BIND_GROUPS / 4;
        for (const k of this.bindGroups.keys()) {
          if (drop-- <= 0) break;
          this.bindGroups.delete(k);
        }
      }
      g = this.device.createBindGroup({ layout, entries });
      this.bindGroupStats.created++;
    }
    this.bindGroups.set(key, g);
    return g;
  }

  copy(src: Tensor | GPUBuffer, dst: Tensor | GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    const s = src instanceof Tensor ? src.buffer : src;
    const d = dst instanceof Tensor ? dst.buffer : dst;
    if (src instanceof Tensor) srcOffset += src.byteOffset;
    if (dst instanceof Tensor) dstOffset += dst.byteOffset;
    if (bytes % 4 || srcOffset % 4 || dstOffset % 4) {
      throw new Error(`copy: ${bytes} bytes at offsets ${srcOffset} -> ${dstOffset} are not multiples of 4 (an f16 tensor with an odd number of values per sample cannot be split or copied in pages)`);
    }
    this.touch(d);
    this.commandEncoder().copyBufferToBuffer(s, srcOffset, d, dstOffset, bytes);
  }

  /** Submits everything recorded so far (no wait). */
  flush(): void {
    if (!this.encoder) return;
    if (this.pass) this.pass.end();
    this.pass = null;
    const cb = this.encoder.finish();
    this.encoder = null;
    this.device.queue.submit([cb]);
  }

  /** Submits and waits until the GPU is idle; throws on device loss or validation error. */
  async sync(): Promise<void> {
    this.flush();
    await this.raceLost(this.device.queue.onSubmittedWorkDone());
    this.checkHealthy();
  }

  private async raceLost<T>(p: Promise<T>): Promise<T> {
    const lost = this.device.lost.then((info) => {
      throw new DeviceLostError(String(info.reason), info.message);
    });
    return this.wait(Promise.race([p, lost]));
  }

  async readBytes(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, size), usage: 0x01 /* MAP_READ */ | 0x08 });
    this.commandEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.flush();
    try {
      await this.raceLost(staging.mapAsync(1 /* READ */));
      this.checkHealthy();
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  // ---- tensors ---------------------------------------------------------------------------------

  /** A new (uninitialised) tensor from the pool, tracked by the innermost scope. */
  alloc(shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = new Tensor(this, this.acquire(n * bytesPerElement(dtype), shape, label), shape, dtype);
    this.scopes[this.scopes.length - 1]?.add(t);
    return t;
  }

  /** A tensor filled from host data (kept out of scopes: weights and inputs outlive a step). */
  upload(data: Float32Array | Int32Array | Uint32Array | readonly number[], shape: readonly number[], dtype?: DType): Tensor {
    const arr = Array.isArray(data) ? new Float32Array(data) : (data as Float32Array | Int32Array | Uint32Array);
    const n = shape.reduce((a, b) => a * b, 1);
    if (arr.length !== n) throw new Error(`upload: data has ${arr.length} values but shape [${shape}] needs ${n}`);
    const dt: DType = dtype ?? (arr instanceof Int32Array ? 'i32' : arr instanceof Uint32Array ? 'u32' : 'f32');
    if (dt === 'f16') this.requireF16();
    const t = new Tensor(this, this.acquire(n * bytesPerElement(dt), shape), shape, dt);
    // queue.writeBuffer runs before commands recorded but not yet submitted; a pooled buffer may
    // still be written by such a command (released after its last use), so submit them first.
    this.flush();
    const src = dt === 'f16' ? padTo4(floatArrayToHalf(arr)) : arr;
    this.device.queue.writeBuffer(t.buffer, 0, src.buffer, src.byteOffset, src.byteLength);
    return t;
  }

  /**
   * A pooled buffer of `bytes`; a clear DeviceMemoryError (not a driver failure) when one buffer
   * would exceed the device's maxBufferSize or all buffers the engine's device memory.
   */
  private acquire(bytes: number, shape: readonly number[], label?: string): GPUBuffer {
    const what = `tensor [${shape}]${label ? ` (${label})` : ''}`;
    if (bytes > this.maxBufferBytes) throw new DeviceMemoryError(what, bytes, this.maxBufferBytes, 'in one buffer');
    const budget = this.deviceMemoryBytes;
    if (budget !== undefined && !this.pool.hasFree(bytes) && this.pool.allocatedBytes + BufferPool.round(bytes) > budget) {
      this.trimPool(); // idle buffers first
      if (this.pool.allocatedBytes + BufferPool.round(bytes) > budget) {
        throw new DeviceMemoryError(what, this.pool.allocatedBytes + BufferPool.round(bytes), budget, 'in all');
      }
    }
    const b = this.pool.acquire(bytes, label);
    this.touch(b);
    return b;
  }

  /** A tensor outside any tidy scope (weights, optimizer slots): lives until disposed. */
  allocPersistent(shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return new Tensor(this, this.acquire(n * bytesPerElement(dtype), shape, label), shape, dtype);
  }

  /** Bytes of one sample (the leading axis) of `t` (of a shape: as `dtype`, default f32). */
  sampleBytes(t: Tensor | readonly number[], dtype: DType = 'f32'): number {
    const shape = t instanceof Tensor ? t.shape : t;
    return shape.slice(1).reduce((a, b) => a * b, 1) * bytesPerElement(t instanceof Tensor ? t.dtype : dtype);
  }

  /** Whether samples [start, …) of `t` can be bound in place (the offset meets the device's alignment). */
  canSlice(t: Tensor, start: number): boolean {
    return (t.byteOffset + start * this.sampleBytes(t)) % this.offsetAlignment === 0;
  }

  /**
   * A view of samples [start, start + count) of `t` (leading axis), bound with an offset, sharing
   * the buffer (disposing it does nothing). Only where `canSlice(t, start)`.
   */
  slice(t: Tensor, start: number, count: number): Tensor {
    const n = t.shape[0];
    if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count > 0 && start + count <= n)) {
      throw new Error(`slice: samples [${start}, ${start + count}) are outside tensor [${t.shape}]`);
    }
    if (!this.canSlice(t, start)) throw new Error(`slice: sample ${start} of [${t.shape}] does not start at a ${this.offsetAlignment}-byte boundary`);
    return new SliceTensor(this, t.buffer, [count, ...t.shape.slice(1)], t.dtype, t.byteOffset + start * this.sampleBytes(t));
  }

  /** Writes host data into an existing tensor (ordered before the next submit's commands). */
  write(t: Tensor, data: Float32Array | Int32Array | Uint32Array): void {
    if (data.length !== t.size) throw new Error(`write: ${data.length} values for tensor of shape [${t.shape}]`);
    this.flush(); // keep earlier recorded work ordered before this write
    const src = t.dtype === 'f16' ? padTo4(floatArrayToHalf(data)) : data;
    this.touch(t.buffer);
    this.device.queue.writeBuffer(t.buffer, t.byteOffset, src.buffer, src.byteOffset, src.byteLength);
  }

  /** A second Tensor over the same buffer (not pooled separately; disposing it does nothing). */
  view(t: Tensor, shape: readonly number[]): Tensor {
    return t.byteOffset || t instanceof SliceTensor
      ? new SliceTensor(this, t.buffer, shape, t.dtype, t.byteOffset)
      : new ViewTensor(this, t.buffer, shape, t.dtype);
  }

  release(t: Tensor): void {
    if (t instanceof ViewTensor) return;
    for (const s of this.scopes) s.delete(t);
    this.pool.release(t.buffer);
  }

  /** Like tf.tidy: tensors allocated inside `fn` are released after it, except those it returns/keeps. */
  tidy<T>(fn: () => T, keep: Tensor[] = []): T {
    this.scopes.push(new Set());
    let result: T;
    try {
      result = fn();
    } finally {
      const scope = this.scopes.pop()!;
      const kept = new Set<Tensor>(keep);
      collectTensors(result!, kept);
      for (const t of scope) if (!kept.has(t)) t.dispose();
      const parent = this.scopes[this.scopes.length - 1];
      if (parent) for (const t of kept) if (scope.has(t)) parent.add(t);
    }
    return result;
  }

  /**
   * Destroys the pool's idle buffers. Recorded commands may still use them (a buffer is released
   * after its last use is recorded), so they are submitted first: WebGPU defers the destruction
   * until submitted work completes.
   */
  trimPool(): void {
    this.flush();
    this.bindGroups.clear(); // they hold the idle buffers about to be destroyed
    this.pool.trim();
  }

  destroy(): void {
    this.flush();
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
    this.trimPool();
    this.device.destroy();
  }
}

class ViewTensor extends Tensor {}
/** A view of a range of samples (bound with offset and size). */
class SliceTensor extends ViewTensor {}

/** f16 data padded to a multiple of 4 bytes (writeBuffer's unit; the pooled buffer has the room). */
const padTo4 = (h: Uint16Array): Uint16Array => {
  if (h.length % 2 === 0) return h;
  const p = new Uint16Array(h.length + 1);
  p.set(h);
  return p;
};

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0)} MiB`;

function collectTensors(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) v.forEach((x) => collectTensors(x, out));
  else if (v && typeof v === 'object' && !(ArrayBuffer.isView(v))) Object.values(v).forEach((x) => collectTensors(x, out));
}
