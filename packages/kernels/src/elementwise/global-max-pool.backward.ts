// Global max pooling backward, one (sample, channel group) per invocation: recomputes the max over
// H*W, then routes dy to the maxima. Ties share the gradient equally (TensorFlow's reduce_max
// gradient, which Keras GlobalMaxPooling2D uses): dx = dy / count where x == max, else 0.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { globalPoolDispatch } from './global-pool.js';
import { ELEMENTWISE_WG } from './add.js';

export const globalMaxPoolBackward = defineKernel({
  name: 'global-max-pool.backward',
  uniforms: { total: 'u32', hw: 'u32', c: 'u32' }, // total = N * c; c in units of the bound type
  bindings: {
    x: { access: 'read', type: vecType },
    dy: { access: 'read', type: vecType },
    dx: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  dispatch: (cfg: VecConfig, s: { batch: number; hw: number; channels: number }) => {
    const { grid, uniforms: u } = globalPoolDispatch(cfg, { ...s, parts: 1, rowsPerPart: s.hw });
    return { grid, uniforms: { total: u.total, hw: u.hw, c: u.c } };
  },
  body: (cfg: VecConfig) => wgsl`
alias T = ${vecType(cfg)};
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(ELEMENTWISE_WG)};
  if (i >= u.total) { return; }
  let ch = i % u.c;
  let n = i / u.c;
  let base = n * u.hw * u.c + ch;
  var m = x[base];
  for (var r = 1u; r < u.hw; r++) { m = max(m, x[base + r * u.c]); }
  var count = T(0.0);
  for (var r = 0u; r < u.hw; r++) { count += select(T(0.0), T(1.0), x[base + r * u.c] == m); }
  let g = dy[i] / count;
  for (var r = 0u; r < u.hw; r++) {
    let idx = base + r * u.c;
    dx[idx] = select(T(0.0), g, x[idx] == m);
  }
}`,
});
