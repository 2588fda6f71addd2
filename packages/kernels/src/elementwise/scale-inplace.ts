// In-place x *= s (averaging accumulated gradients; t += alpha·t when both operands are one buffer).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { ELEMENTWISE_WG } from './add.js';
import { flatLoop, flatDispatch } from './flat-loop.js';

export const elementwiseScaleInPlace = defineKernel({
  name: 'scale-inplace',
  uniforms: { n: 'u32', rowsPerPart: 'u32', s: 'f32' },
  bindings: { x: { access: 'read_write', type: vecType } },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { size: number; s: number }) => flatDispatch(cfg, s.size, { s: s.s }),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop('x[i] = u.s * x[i];')}
}`,
});
