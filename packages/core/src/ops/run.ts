// Records one dispatch whose grid and uniform values come from the kernel spec itself
// (`kernel.dispatch(cfg, shapes)`, see kernels/src/define-kernel.ts): ops pass the config, the shapes
// and the buffers, never a grid.
import type { Kernel, UniformSchema, BindingSchema } from '@mnv2/kernels';
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';

export function run<U extends UniformSchema, B extends BindingSchema, C, S>(
  e: Engine,
  kernel: Kernel<U, B, C, S>,
  cfg: C,
  shapes: S,
  buffers: { [K in keyof B]: Tensor | GPUBuffer },
): void {
  const { grid, uniforms } = kernel.dispatch(cfg, shapes);
  e.dispatch(kernel, cfg, buffers, uniforms, grid);
}
