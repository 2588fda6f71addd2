// Global average / max pooling over the spatial rows of NHWC, [N, H*W, C] → [N, parts, C]. With
// parts = 1 this is the whole pool; for large H*W with few channels the rows are split into parts
// (more invocations, so both cores work) and the same kernel runs again over [N, parts, C] with
// hw = parts to finish (no atomics, no barriers). Average mode multiplies each part's sum by `scale`
// (1/(H*W) in the first pass, 1 in the second). vec4 over channels when C % 4 == 0.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, ceilDiv, flatIndex, grid1d, vecCount, vecType, wgsl } from '../wgsl.js';
import { ELEMENTWISE_WG } from './add.js';

export interface GlobalPoolConfig {
  vec4: boolean;
  mode: 'avg' | 'max';
}

/** One pass of a global pool: `batch` samples of `hw` rows of `channels` f32, split into `parts` of `rowsPerPart` rows. */
export interface GlobalPoolShapes {
  batch: number;
  hw: number;
  channels: number;
  parts: number;
  rowsPerPart: number;
  scale: number;
}

/** Grid and uniforms of the per-(sample, part, channel group) pooling kernels. */
export function globalPoolDispatch(cfg: { vec4: boolean }, s: Omit<GlobalPoolShapes, 'scale'>) {
  const c = vecCount(cfg, s.channels);
  const total = s.batch * s.parts * c;
  return { grid: grid1d(ceilDiv(total, ELEMENTWISE_WG)), uniforms: { total, hw: s.hw, c, parts: s.parts, rowsPerPart: s.rowsPerPart } };
}

export const globalPool = defineKernel({
  name: 'global-pool',
  // total = batch * parts * c; c in units of the bound type
  uniforms: { total: 'u32', hw: 'u32', c: 'u32', parts: 'u32', rowsPerPart: 'u32', scale: 'f32' },
  bindings: {
    x: { access: 'read', type: vecType },
    y: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  key: (cfg: GlobalPoolConfig) => `${cfg.mode}-${cfg.vec4 ? 'v4' : 's'}`,
  dispatch: (cfg: GlobalPoolConfig, s: GlobalPoolShapes) => {
    const d = globalPoolDispatch(cfg, s);
    return { grid: d.grid, uniforms: { ...d.uniforms, scale: s.scale } };
  },
  body: (cfg: GlobalPoolConfig) => {
    const avg = cfg.mode === 'avg';
    return wgsl`
alias T = ${vecType(cfg)};
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(ELEMENTWISE_WG)};
  if (i >= u.total) { return; }
  let ch = i % u.c;
  let t = i / u.c;
  let p = t % u.parts;
  let n = t / u.parts;
  let r0 = p * u.rowsPerPart;
  let r1 = min(r0 + u.rowsPerPart, u.hw);
  let base = n * u.hw * u.c + ch;
  var acc = ${avg ? 'T(0.0)' : 'x[base + r0 * u.c]'};
  for (var r = r0${avg ? '' : ' + 1u'}; r < r1; r++) {
    ${avg ? 'acc += x[base + r * u.c];' : 'acc = max(acc, x[base + r * u.c]);'}
  }
  y[i] = ${avg ? 'acc * u.scale' : 'acc'};
}`;
  },
});
