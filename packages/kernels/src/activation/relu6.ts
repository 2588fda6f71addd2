// ReLU6 forward, y = min(max(x, 0), 6), element-wise. Usually fused into conv/BN epilogues; this
// standalone kernel serves unfused paths and tests. vec4 path when the length is a multiple of 4.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, RELU6_FNS, vecType, vecCount, grid1d, ceilDiv, wgsl, type VecConfig } from '../wgsl.js';

export const RELU6_WG = 64;

/** One invocation per element of the bound type (forward and backward). */
export function relu6Dispatch(cfg: VecConfig, s: { size: number }) {
  const n = vecCount(cfg, s.size);
  return { grid: grid1d(ceilDiv(n, RELU6_WG)), uniforms: { n } };
}

export const relu6 = defineKernel({
  name: 'relu6',
  uniforms: { n: 'u32' }, // array length in elements of the bound type
  bindings: { x: { access: 'read', type: vecType }, y: { access: 'read_write', type: vecType } },
  workgroupSize: () => [RELU6_WG, 1, 1],
  dispatch: relu6Dispatch,
  body: (cfg: VecConfig) => wgsl`
${RELU6_FNS}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(RELU6_WG)};
  if (i >= u.n) { return; }
  y[i] = ${cfg.vec4 ? 'relu6v' : 'relu6'}(x[i]);
}`,
});
