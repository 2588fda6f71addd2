// y = s * x (loss scaling, averaging accumulated gradients).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { ELEMENTWISE_WG } from './add.js';
import { flatLoop, flatDispatch } from './flat-loop.js';

export const elementwiseScale = defineKernel({
  name: 'scale',
  uniforms: { n: 'u32', rowsPerPart: 'u32', s: 'f32' },
  bindings: {
    x: { access: 'read', type: vecType },
    y: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { size: number; s: number }) => flatDispatch(cfg, s.size, { s: s.s }),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop('y[i] = u.s * x[i];')}
}`,
});
