// Folds inference BatchNorm into a per-channel affine for conv epilogues (scale also feeds batchnorm-apply):
//   scale = gamma / sqrt(var + eps)
//   shift = beta - mean * scale
// One invocation per channel (group); runs on the GPU so no parameter readback is needed.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { BN_WG, bnChannelDispatch } from './batchnorm-stats.js';

export const batchnormFold = defineKernel({
  name: 'batchnorm-fold',
  uniforms: { c: 'u32', epsilon: 'f32' },
  bindings: {
    gamma: { access: 'read', type: vecType },
    beta: { access: 'read', type: vecType },
    mean: { access: 'read', type: vecType },
    variance: { access: 'read', type: vecType },
    scale: { access: 'read_write', type: vecType },
    shift: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { channels: number; epsilon: number }) => bnChannelDispatch(cfg, s.channels, { epsilon: s.epsilon }),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: (cfg: VecConfig) => wgsl`
alias T = ${vecType(cfg)};
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let ch = ${flatIndex(BN_WG)};
  if (ch >= u.c) { return; }
  let inv = T(1.0) / sqrt(variance[ch] + T(u.epsilon));
  let sc = gamma[ch] * inv;
  scale[ch] = sc;
  shift[ch] = beta[ch] - mean[ch] * sc;
}`,
});
