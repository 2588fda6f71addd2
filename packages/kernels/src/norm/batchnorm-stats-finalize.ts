// BatchNorm training statistics, pass 2 of 2: per channel, folds the partials of batchnorm-stats into
// the batch mean and the *biased* batch variance (what normalizes the batch, and what Keras feeds its
// moving average: Keras 3 uses ops.moments; tf.keras' fused path adds then removes Bessel's
// correction, netting the biased variance), saves mean and invStd = 1/sqrt(var + eps) for the
// backward, scale = gamma * invStd for batchnorm-apply, and updates the moving statistics in place:
//   moving = moving * momentum + batch * (1 - momentum).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { BN_WG, bnChannelDispatch } from './batchnorm-stats.js';

export const batchnormStatsFinalize = defineKernel({
  name: 'batchnorm-stats-finalize',
  // decay = 1 − momentum, computed in f64 on the host (0.999 in f32 would make it 1.3e-5 off)
  uniforms: { c: 'u32', parts: 'u32', count: 'f32', momentum: 'f32', decay: 'f32', epsilon: 'f32' },
  bindings: {
    partials: { access: 'read', type: vecType },
    gamma: { access: 'read', type: vecType },
    movingMean: { access: 'read_write', type: vecType },
    movingVariance: { access: 'read_write', type: vecType },
    mean: { access: 'read_write', type: vecType },
    invStd: { access: 'read_write', type: vecType },
    scale: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [BN_WG, 1, 1],
  /** `count` = rows reduced; the moving statistics decay by `momentum` (Keras). */
  dispatch: (cfg: VecConfig, s: { channels: number; parts: number; count: number; momentum: number; epsilon: number }) =>
    bnChannelDispatch(cfg, s.channels, { parts: s.parts, count: s.count, momentum: s.momentum, decay: 1 - s.momentum, epsilon: s.epsilon }),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: (cfg: VecConfig) => wgsl`
alias T = ${vecType(cfg)};
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let ch = ${flatIndex(BN_WG)};
  if (ch >= u.c) { return; }
  var s = T(0.0);
  var q = T(0.0);
  for (var p = 0u; p < u.parts; p++) {
    s += partials[p * u.c + ch];
    q += partials[(u.parts + p) * u.c + ch];
  }
  let shift = partials[2u * u.parts * u.c + ch];
  let md = s / u.count;
  let variance = max(q / u.count - md * md, T(0.0));
  let mu = shift + md;
  mean[ch] = mu;
  let inv = T(1.0) / sqrt(variance + T(u.epsilon));
  invStd[ch] = inv;
  scale[ch] = gamma[ch] * inv;
  movingMean[ch] = movingMean[ch] * u.momentum + mu * u.decay;
  movingVariance[ch] = movingVariance[ch] * u.momentum + variance * u.decay;
}`,
});
