// Layout of the flat element-wise kernels: the array (in units of the bound type) is viewed as rows of
// 64; workgroup p owns rows [p*rowsPerPart, (p+1)*rowsPerPart) and lane l loops over its column.
// Each iteration touches 64 contiguous elements per workgroup, and each invocation handles dozens of
// elements, which amortizes lavapipe's per-invocation cost: measured on [8,56,56,144] vec4 adds,
// ~5 ms against ~13 ms for one element per invocation (LAVAPIPE.md notes the per-invocation cost).
import { ceilDiv, grid1d, vecCount, type VecConfig } from '../wgsl.js';

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
