// Layout of the flat element-wise kernels: the array (in units of the bound type) is viewed as rows of
// 64; workgroup p owns rows [p*rowsPerPart, (p+1)*rowsPerPart) and lane l loops over its column.
// Each iteration touches 64 contiguous elements per workgroup, and each invocation handles dozens of
// elements, which amortizes lavapipe's per-invocation cost: measured on [8,56,56,144] vec4 adds,
// ~5 ms against ~13 ms for one element per invocation (LAVAPIPE.md notes the per-invocation cost).
import { defineKernel, type Access, type BindingDecl } from '../define-kernel.js';
import type { UniformValues } from '../uniforms.js';
import { MAIN_1D, ceilDiv, grid1d, vecCount, vecType, wgsl, type VecConfig } from '../wgsl.js';

export const FLAT_WG = 64;

/** rowsPerPart and the workgroup grid for an array of `n` elements of the bound type. */
export function flatPlan(n: number): { rowsPerPart: number; grid: [number, number, number] } {
  const rows = ceilDiv(Math.max(1, n), FLAT_WG);
  const rowsPerPart = Math.min(64, Math.max(1, ceilDiv(rows, 256)));
  return { rowsPerPart, grid: grid1d(ceilDiv(rows, rowsPerPart)) };
}

/** Grid and uniforms of a flat kernel over `size` f32 elements, plus its own `extra` uniforms. */
export function flatDispatch<X extends Record<string, number>>(cfg: VecConfig, size: number, extra: X): { grid: [number, number, number]; uniforms: { n: number; rowsPerPart: number } & X } {
  const n = vecCount(cfg, size);
  const { rowsPerPart, grid } = flatPlan(n);
  return { grid, uniforms: { n, rowsPerPart, ...extra } };
}

/**
 * WGSL body of a flat loop: `each` is run with `i` (element index in the bound type) in scope.
 * Needs MAIN_1D builtins and uniforms `n`, `rowsPerPart`; the workgroup size must be FLAT_WG.
 */
export const flatLoop = (each: string) => `
  if (lid >= u.n) { return; }
  let part = wid.y * nwg.x + wid.x;
  let laneRows = (u.n - lid + ${FLAT_WG - 1}u) / ${FLAT_WG}u;
  let r1 = min((part + 1u) * u.rowsPerPart, laneRows);
  for (var r = part * u.rowsPerPart; r < r1; r++) {
    let i = r * ${FLAT_WG}u + lid;
    ${each}
  }`;

/**
 * A flat element-wise kernel: every binding an array of the bound type (vec4 when the length is a
 * multiple of 4), uniforms `n`, `rowsPerPart` and the kernel's `extra` ones (its dispatch takes
 * `{ size, ...extra }`), and `each(cfg)`: the WGSL run for element `i`.
 */
export function defineFlatKernel<X extends Record<string, 'f32' | 'u32'>, B extends string>(def: {
  name: string;
  extra: X;
  bindings: Record<B, Access>;
  each: (cfg: VecConfig) => string;
}) {
  const bindings = Object.fromEntries(Object.entries<Access>(def.bindings).map(([k, access]) => [k, { access, type: vecType }])) as Record<B, BindingDecl>;
  const uniforms = { n: 'u32', rowsPerPart: 'u32', ...def.extra } as { n: 'u32'; rowsPerPart: 'u32' } & X;
  return defineKernel({
    name: def.name,
    uniforms,
    bindings,
    workgroupSize: () => [FLAT_WG, 1, 1],
    dispatch: (cfg: VecConfig, { size, ...extra }: { size: number } & UniformValues<X>) => {
      const d = flatDispatch(cfg, size, extra as Record<string, number>);
      return { grid: d.grid, uniforms: d.uniforms as UniformValues<typeof uniforms> };
    },
    key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
    body: (cfg: VecConfig) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop(def.each(cfg))}
}`,
  });
}
