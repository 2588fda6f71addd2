// Shared pieces of the optimizer kernels (Keras 3 update rules, in-place on the parameter).
// Every optimizer kernel updates one parameter tensor per dispatch: vec4 arrays when its length is a
// multiple of 4, scalar arrays otherwise (writable bindings cannot alias, so no vec4 body + scalar
// tail over one buffer). Step-dependent scalars (learning rate, Adam's bias-corrected step size)
// travel as uniforms. Slots are created lazily by the host without any fill: the uniform `init` = 1
// on a slot's first update makes the kernel treat its old value as 0 (Keras zero-initialises
// optimizer variables), so no separate zero-fill dispatch is needed.
import type { UniformSchema, UniformValues } from '../uniforms.js';
import { ceilDiv, grid1d, vecCount, vecType, type VecConfig } from '../wgsl.js';

export const OPTIM_WG = 64;
export const optimVecType = vecType;

/** WGSL: loads slot `name` at `i`, or zero when `u.init != 0` (first update of a lazily created slot). */
export const loadSlot = (cfg: VecConfig, name: string, as: string) =>
  `var ${as} = ${vecType(cfg)}(0.0);\n  if (u.init == 0u) { ${as} = ${name}[i]; }`;

/**
 * WGSL: Keras decoupled weight decay, applied before the update with the current learning rate:
 * w = w - w * (weight_decay * lr). `u.decay` = weight_decay * lr (0 = off).
 */
export const decayedParam = (as: string) => `var ${as} = p[i];\n  ${as} = ${as} - ${as} * u.decay;`;

/** An optimizer kernel's dispatch arguments: the parameter's f32 length and its uniforms but `n`. */
export type OptimArgs<U extends UniformSchema> = Omit<UniformValues<U>, 'n'> & { size: number };

/** Grid (one invocation per element of the bound type) and uniforms of an optimizer kernel. */
export function optimDispatch<U extends UniformSchema>(cfg: VecConfig, { size, ...rest }: OptimArgs<U>) {
  const n = vecCount(cfg, size);
  return { grid: grid1d(ceilDiv(n, OPTIM_WG)), uniforms: { ...rest, n } as UniformValues<U> };
}
