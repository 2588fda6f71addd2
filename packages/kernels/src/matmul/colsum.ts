// Column sum out[c] = sum_r x[r, c] of a row-major [R, C] matrix: the bias gradient of a dense
// layer (db = sum over the batch of dy). `colsumReluMask` first masks dy by a plain ReLU's output
// (dz = dy where y > 0), writes dz for the matmuls of the same backward, and sums it: one pass.
// One invocation per column (vec4 of columns when C % 4 == 0), looping over the rows.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, vecCount, wgsl } from '../wgsl.js';
import { MATMUL_WG } from './matmul.js';

export interface ColsumConfig {
  /** C % 4 == 0: bind arrays as vec4<f32>. */
  vec4: boolean;
}

const t = (c: ColsumConfig) => (c.vec4 ? 'vec4<f32>' : 'f32');
const zero = (c: ColsumConfig) => (c.vec4 ? 'vec4<f32>(0.0)' : '0.0');

/** One invocation per column (group) of an [R, C] matrix, C in f32 columns. */
const colsumDispatch = (c: ColsumConfig, s: { R: number; C: number }) => {
  const cols = vecCount(c, s.C);
  return { grid: grid1d(ceilDiv(cols, MATMUL_WG)), uniforms: { R: s.R, C: cols } };
};

/** Uniforms: R rows, C columns in units of the bound type (the dispatch takes C in f32 columns). */
export const colsum = defineKernel({
  name: 'colsum',
  uniforms: { R: 'u32', C: 'u32' },
  bindings: { x: { access: 'read', type: t }, out: { access: 'read_write', type: t } },
  workgroupSize: () => [MATMUL_WG, 1, 1],
  key: (c: ColsumConfig) => (c.vec4 ? 'v4' : 'f1'),
  dispatch: colsumDispatch,
  body: (c: ColsumConfig) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(MATMUL_WG)};
  if (i >= u.C) { return; }
  var s = ${zero(c)};
  for (var r = 0u; r < u.R; r += 1u) { s += x[r * u.C + i]; }
  out[i] = s;
}`,
});

/** Like `colsum` over dz = dy * (y > 0), also writing dz ([R, C]). */
export const colsumReluMask = defineKernel({
  name: 'colsum.relu-mask',
  uniforms: { R: 'u32', C: 'u32' },
  bindings: {
    dy: { access: 'read', type: t },
    y: { access: 'read', type: t },
    dz: { access: 'read_write', type: t },
    out: { access: 'read_write', type: t },
  },
  workgroupSize: () => [MATMUL_WG, 1, 1],
  key: (c: ColsumConfig) => (c.vec4 ? 'v4' : 'f1'),
  dispatch: colsumDispatch,
  body: (c: ColsumConfig) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(MATMUL_WG)};
  if (i >= u.C) { return; }
  var s = ${zero(c)};
  for (var r = 0u; r < u.R; r += 1u) {
    let at = r * u.C + i;
    let g = select(${zero(c)}, dy[at], y[at] > ${zero(c)});
    dz[at] = g;
    s += g;
  }
  out[i] = s;
}`,
});
