// In-place accumulate acc += alpha * b (gradient accumulation, residual backward). `acc` and
// `b` must be different buffers (WebGPU forbids binding one buffer writable and readable at once).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { ELEMENTWISE_WG } from './add.js';
import { flatLoop, flatDispatch } from './flat-loop.js';

export const elementwiseAddInPlace = defineKernel({
  name: 'add-inplace',
  uniforms: { n: 'u32', rowsPerPart: 'u32', alpha: 'f32' },
  bindings: {
    acc: { access: 'read_write', type: vecType },
    b: { access: 'read', type: vecType },
  },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { size: number; alpha: number }) => flatDispatch(cfg, s.size, { alpha: s.alpha }),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop('acc[i] = acc[i] + u.alpha * b[i];')}
}`,
});
