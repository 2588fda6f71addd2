// ReLU6 backward: dx = dy where 0 < y < 6, else 0. Uses the forward *output* y (what fused
// epilogues keep), so the forward input need not be saved.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, RELU6_FNS, flatIndex, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { RELU6_WG, relu6Dispatch } from './relu6.js';

export const relu6Backward = defineKernel({
  name: 'relu6.backward',
  uniforms: { n: 'u32' },
  bindings: {
    y: { access: 'read', type: vecType },
    dy: { access: 'read', type: vecType },
    dx: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [RELU6_WG, 1, 1],
  dispatch: relu6Dispatch,
  body: (cfg: VecConfig) => wgsl`
${RELU6_FNS}
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(RELU6_WG)};
  if (i >= u.n) { return; }
  dx[i] = dy[i] * ${cfg.vec4 ? 'relu6MaskV' : 'relu6Mask'}(y[i]);
}`,
});
