// Shared pieces of the optimizer kernels (Keras 3 update rules, in-place on the parameter).
// Every optimizer kernel updates one parameter tensor per dispatch: vec4 arrays when its length is a
// multiple of 4, scalar arrays otherwise (writable bindings cannot alias, so no vec4 body + scalar
// tail over one buffer). Step-dependent scalars (learning rate, Adam's bias-corrected step size)
// travel as uniforms. Slots are created lazily by the host without any fill: the uniform `init` = 1
// on a slot's first update makes the kernel treat its old value as 0 (Keras zero-initialises
// optimizer variables), so no separate zero-fill dispatch is needed.
import { defineKernel, type BindingDecl } from '../define-kernel.js';
import type { UniformSchema, UniformValues } from '../uniforms.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, vecCount, vecType, wgsl, type VecConfig } from '../wgsl.js';

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

/**
 * An optimizer kernel: in-place update of parameter `p` from gradient `g` and the optimizer's `slots`
 * (all arrays of the bound type), one invocation per element. `update(cfg)` is the WGSL after the
 * bounds check (element index `i`); the rest (bindings, grid, uniforms, key) is the same for all.
 */
export function defineOptimizerKernel<U extends UniformSchema, C extends VecConfig = VecConfig, S extends string = never>(def: {
  name: string;
  uniforms: U;
  slots: readonly S[];
  update: (cfg: C) => string;
  key?: (cfg: C) => string;
}) {
  const rw: BindingDecl = { access: 'read_write', type: vecType };
  const bindings = { p: rw, g: { access: 'read', type: vecType }, ...Object.fromEntries(def.slots.map((s) => [s, rw])) } as Record<'p' | 'g' | S, BindingDecl>;
  return defineKernel({
    name: def.name,
    uniforms: def.uniforms,
    bindings,
    workgroupSize: () => [OPTIM_WG, 1, 1],
    dispatch: (cfg: C, s: OptimArgs<U>) => optimDispatch<U>(cfg, s),
    body: (cfg: C) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(OPTIM_WG)};
  if (i >= u.n) { return; }
  ${def.update(cfg)}
}`,
    key: def.key ?? ((cfg: C) => (cfg.vec4 ? 'v4' : 's')),
  });
}
