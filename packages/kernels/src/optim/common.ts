// Shared pieces of the optimizer kernels (Keras 3 update rules, in-place on the parameter).
// Every optimizer kernel updates one parameter tensor per dispatch in the flat-loop layout of the
// element-wise kernels (elementwise/flat-loop.ts: each invocation loops over a column of rows of 64
// elements; measured on lavapipe 1.05-1.3x faster than one element per invocation, the earlier form,
// bench/results/kernels-depthwise-bn-lavapipe.md): vec4 arrays when its length is a
// multiple of 4, scalar arrays otherwise (writable bindings cannot alias, so no vec4 body + scalar
// tail over one buffer). Step-dependent scalars (learning rate, Adam's bias-corrected step size)
// travel as uniforms. Slots are created lazily by the host without any fill: the uniform `init` = 1
// on a slot's first update makes the kernel treat its old value as 0 (Keras zero-initialises
// optimizer variables), so no separate zero-fill dispatch is needed.
import { defineKernel, type BindingDecl } from '../define-kernel.js';
import type { UniformSchema, UniformValues } from '../uniforms.js';
import { MAIN_1D, vecCount, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { FLAT_WG, flatLoop, flatPlan } from '../elementwise/flat-loop.js';

export const OPTIM_WG = FLAT_WG;
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

/** Grid (flat-loop parts) and uniforms of an optimizer kernel (its own plus `n` and `rowsPerPart`). */
export function optimDispatch<U extends UniformSchema>(cfg: VecConfig, { size, ...rest }: OptimArgs<U>) {
  const n = vecCount(cfg, size);
  const { rowsPerPart, grid } = flatPlan(n);
  return { grid, uniforms: { ...rest, n, rowsPerPart } as UniformValues<U & { rowsPerPart: 'u32' }> };
}

/**
 * An optimizer kernel: in-place update of parameter `p` from gradient `g` and the optimizer's `slots`
 * (all arrays of the bound type), in the flat-loop layout. `update(cfg)` is the WGSL for element `i`
 * (run once per element, no `return`); the rest (bindings, grid, uniforms, key) is the same for all.
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
  const uniforms = { ...def.uniforms, rowsPerPart: 'u32' } as U & { rowsPerPart: 'u32' };
  return defineKernel({
    name: def.name,
    uniforms,
    bindings,
    workgroupSize: () => [OPTIM_WG, 1, 1],
    dispatch: (cfg: C, s: OptimArgs<U>) => optimDispatch<U>(cfg, s),
    body: (cfg: C) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop(def.update(cfg))}
}`,
    key: def.key ?? ((cfg: C) => (cfg.vec4 ? 'v4' : 's')),
  });
}
