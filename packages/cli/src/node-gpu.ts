// WebGPU in Node through Dawn (`webgpu` package). Two pitfalls handled here (see shared LAVAPIPE.md):
// 1. the object returned by create() must stay reachable, or the process later crashes or hangs;
// 2. awaiting its promises busy-spins the main thread, stealing a core from a software adapter,
//    so GPU promises are awaited with a wait that sleeps in ~1 ms slices.
import { totalmem } from 'node:os';
import { create, globals } from 'webgpu';
import { Engine, type Precision } from '@mnv2/core';
import { parseBytes } from './data/cache-budget.js';
import { loadTuning } from './tuning-file.js';

Object.assign(globalThis, globals);

let gpu: GPU | null = null; // module-level: keeps Dawn's instance alive for the process lifetime

export const SETUP_HINT =
  'No WebGPU adapter was found. Run `bash scripts/setup.sh` (installs Mesa lavapipe, a software ' +
  'Vulkan driver, on Debian 12) or set VK_ICD_FILENAMES to a Vulkan driver\'s ICD json.';

export function nodeGpu(): GPU {
  gpu ??= create([]) as unknown as GPU;
  return gpu;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Awaits `p` while letting the main thread sleep between event-loop turns. */
export async function sleepyWait<T>(p: Promise<T>): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    Atomics.wait(sleeper, 0, 0, 1);
    await new Promise<void>((r) => setImmediate(r));
  }
  return p;
}

export interface NodeEngineOptions {
  powerPreference?: GPUPowerPreference;
  /** Pretend the adapter binds at most this many bytes per buffer (default: env MNV2_MAX_BINDING_BYTES, else the adapter's). */
  maxBindingBytes?: number;
  /** Device memory in bytes (default: env MNV2_DEVICE_MEMORY; else the host's memory on a software adapter, unknown on a GPU). */
  deviceMemoryBytes?: number;
  /** Storage type of network activations (`--precision`; f16 needs the adapter's 'shader-f16', else a PrecisionError names it). */
  precision?: Precision;
  /**
   * 'adapter' (default): ask for the adapter's buffer and storage-binding limits. 'default': take
   * WebGPU's default limits (8 storage buffers per stage, 128 MiB per binding, 256 MiB per buffer,
   * 16 KiB of workgroup memory, 256 invocations), what the most modest browser adapter grants; env
   * MNV2_LIMITS=default. Tests use it to prove every kernel runs within them.
   */
  limits?: 'adapter' | 'default';
}

const envBytes = (name: string) => {
  const v = process.env[name];
  return v ? parseBytes(v, name) : undefined;
};

/** A software adapter (lavapipe, SwiftShader) uses host memory as device memory. */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const i = adapter.info;
  return /llvmpipe|lavapipe|swiftshader/i.test(`${i.vendor} ${i.architecture} ${i.device} ${i.description}`);
}

export async function requestNodeAdapter(opts: NodeEngineOptions = {}): Promise<GPUAdapter> {
  const adapter = await sleepyWait(nodeGpu().requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' }));
  if (!adapter) throw new Error(SETUP_HINT);
  return adapter;
}

/** Creates an Engine on the best adapter, asking for the adapter's full buffer limits. */
export async function createNodeEngine(opts: NodeEngineOptions = {}): Promise<{ engine: Engine; adapter: GPUAdapter }> {
  const adapter = await requestNodeAdapter(opts);
  const want: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];
  const requiredFeatures = want.filter((f) => adapter.features.has(f));
  const limits = opts.limits ?? (process.env.MNV2_LIMITS === 'default' ? 'default' : 'adapter');
  const device = await sleepyWait(
    adapter.requestDevice({
      requiredFeatures,
      requiredLimits: limits === 'default' ? {} : {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      },
    }),
  );
  const maxBindingBytes = opts.maxBindingBytes ?? envBytes('MNV2_MAX_BINDING_BYTES');
  const deviceMemoryBytes = opts.deviceMemoryBytes ?? envBytes('MNV2_DEVICE_MEMORY') ?? (isSoftwareAdapter(adapter) ? totalmem() : undefined);
  const engine = new Engine(device, { wait: sleepyWait, maxBindingBytes, deviceMemoryBytes, precision: opts.precision, adapterName: describeAdapter(adapter) });
  loadTuning(engine); // this adapter's measured matmul variants, when 'mnv2 tune' has run
  return { engine, adapter };
}

export function describeAdapter(adapter: GPUAdapter): string {
  const i = adapter.info;
  return [i.vendor, i.architecture, i.device, i.description].filter((s) => s && String(s).length > 0).join(' / ') || 'unknown adapter';
}
