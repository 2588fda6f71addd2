// Errors that name the op and the shapes, so users see what to fix.

export class ShapeError extends Error {
  constructor(op: string, message: string, shapes: Record<string, readonly number[] | number | string> = {}) {
    const parts = Object.entries(shapes).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`);
    super(`${op}: ${message}${parts.length ? ` (${parts.join(', ')})` : ''}`);
    this.name = 'ShapeError';
  }
}

export class DeviceLostError extends Error {
  constructor(reason: string, message: string) {
    super(
      `GPU device lost (${reason || 'unknown'}): ${message || 'no message'}. ` +
        'Nothing was computed after this point; restart the command (saved checkpoints are intact).',
    );
    this.name = 'DeviceLostError';
  }
}

export class GpuValidationError extends Error {
  constructor(message: string) {
    super(`WebGPU error: ${message}`);
    this.name = 'GpuValidationError';
  }
}

export function assertShape(op: string, name: string, shape: readonly number[], rank: number): void {
  if (shape.length !== rank || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(op, `${name} must have rank ${rank} with positive integer dims`, { [name]: shape });
  }
}

/**
 * A tensor that does not fit the device's memory. `needed` and `available` are bytes; `scope` says
 * which limit: 'in one buffer' (maxBufferSize) or 'in all' (the engine's device memory). Callers
 * that know the model (fit, predict) add the largest batch that fits.
 */
export class DeviceMemoryError extends Error {
  constructor(
    readonly what: string,
    readonly needed: number,
    readonly available: number,
    readonly scope: 'in one buffer' | 'in all',
    hint = 'use a smaller batch size or image size',
  ) {
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    super(
      scope === 'in one buffer'
        ? `out of device memory: ${what} needs ${mb(needed)} in one buffer but this device's largest buffer is ${mb(available)}: ${hint}`
        : `out of device memory: ${what} needs about ${mb(needed)} of device memory in all but the device has ${mb(available)}: ${hint}`,
    );
    this.name = 'DeviceMemoryError';
  }
}

/**
 * A kernel binds more storage buffers than the device grants (maxStorageBuffersPerShaderStage):
 * names the kernel, the need and the limit instead of WebGPU's invalid-pipeline cascade. Every kernel of ours fits WebGPU's default limits (tested), so this points
 * at a new kernel, or a device created with less than the defaults.
 */
export class DeviceLimitError extends Error {
  constructor(kernel: string, needed: number, available: number) {
    super(
      `kernel '${kernel}' binds ${needed} storage buffers, but this device grants ${available} per shader stage (maxStorageBuffersPerShaderStage). ` +
        `WebGPU guarantees 8; keep a kernel within the defaults (or choose a variant by the device's limit).`,
    );
    this.name = 'DeviceLimitError';
  }
}

/** A precision the engine cannot run (f16 storage without the device feature 'shader-f16'). */
export class PrecisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrecisionError';
  }
}
