// Fills a tensor with one value (zeroing gradient accumulators, constants).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { ELEMENTWISE_WG } from './add.js';
import { flatLoop, flatDispatch } from './flat-loop.js';

export const elementwiseFill = defineKernel({
  name: 'fill',
  uniforms: { n: 'u32', rowsPerPart: 'u32', value: 'f32' },
  bindings: { y: { access: 'read_write', type: vecType } },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { size: number; value: number }) => flatDispatch(cfg, s.size, { value: s.value }),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: (cfg: VecConfig) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop(`y[i] = ${vecType(cfg)}(u.value);`)}
}`,
});
