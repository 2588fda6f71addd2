// Global average pooling backward: dx[n, h, w, c] = dy[n, c] / (H*W). One invocation per (sample,
// part of the rows, channel group) loops over its rows with the value in a register (no per-element
// integer division, which lavapipe scalarizes); parts as in the forward (split-plan.ts).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, vecCount, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { ELEMENTWISE_WG } from './add.js';
import { globalPoolDispatch } from './global-pool.js';
import { splitPlan } from '../split-plan.js';

export const globalAvgPoolBackward = defineKernel({
  name: 'global-avg-pool.backward',
  // total = batch * parts * c; c in units of the bound type; scale = 1/(H*W)
  uniforms: { total: 'u32', hw: 'u32', c: 'u32', parts: 'u32', rowsPerPart: 'u32', scale: 'f32' },
  bindings: {
    dy: { access: 'read', type: vecType },
    dx: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  dispatch: (cfg: VecConfig, s: { batch: number; hw: number; channels: number }) => {
    const plan = splitPlan(s.hw, s.batch * vecCount(cfg, s.channels));
    const d = globalPoolDispatch(cfg, { ...s, ...plan });
    return { grid: d.grid, uniforms: { ...d.uniforms, scale: 1 / s.hw } };
  },
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(ELEMENTWISE_WG)};
  if (i >= u.total) { return; }
  let ch = i % u.c;
  let t = i / u.c;
  let p = t % u.parts;
  let n = t / u.parts;
  let g = dy[n * u.c + ch] * u.scale;
  let base = n * u.hw * u.c + ch;
  let r1 = min((p + 1u) * u.rowsPerPart, u.hw);
  for (var r = p * u.rowsPerPart; r < r1; r++) { dx[base + r * u.c] = g; }
}`,
});
