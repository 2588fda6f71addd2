// Element-wise sum y = a + b of two same-shape tensors (residual connections). Its backward is the
// identity on both inputs (no kernel). vec4 when the length is a multiple of 4.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { flatLoop, FLAT_WG, flatDispatch } from './flat-loop.js';

/** Workgroup size of the element-wise family (= FLAT_WG of the flat loop). */
export const ELEMENTWISE_WG = FLAT_WG;

export const elementwiseAdd = defineKernel({
  name: 'add',
  uniforms: { n: 'u32', rowsPerPart: 'u32' },
  bindings: {
    a: { access: 'read', type: vecType },
    b: { access: 'read', type: vecType },
    y: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { size: number }) => flatDispatch(cfg, s.size, {}),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop('y[i] = a[i] + b[i];')}
}`,
});
