// BatchNorm backward, pass 2: per channel, folds the partials of batchnorm.backward into
//   dbeta = Σ dŷ,  dgamma = Σ dŷ·x̂
// and, in training mode, the coefficients of dx (the paths through the batch mean and variance):
//   dx = gamma·invStd/M · (M·dŷ − Σdŷ − x̂·Σdŷx̂) = a·dŷ − b·(x − mean) − c
//   coef[0] = a = gamma·invStd,  coef[1] = b = a·invStd·dgamma/M,  coef[2] = c = a·dbeta/M.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, vecType, wgsl } from '../wgsl.js';
import { BN_WG, bnChannelDispatch } from './batchnorm-stats.js';

export interface BatchnormBackwardFinalizeConfig {
  vec4: boolean;
  /** Also write the dx coefficients (training mode). */
  train: boolean;
}

export const batchnormBackwardFinalize = defineKernel({
  name: 'batchnorm.backward-finalize',
  uniforms: { c: 'u32', parts: 'u32', count: 'f32' },
  bindings: {
    partials: { access: 'read', type: vecType },
    gamma: { access: 'read', type: vecType },
    invStd: { access: 'read', type: vecType },
    dgamma: { access: 'read_write', type: vecType },
    dbeta: { access: 'read_write', type: vecType },
    coef: { access: 'read_write', type: vecType }, // [3, c], training only
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: BatchnormBackwardFinalizeConfig, s: { channels: number; parts: number; count: number }) => bnChannelDispatch(cfg, s.channels, { parts: s.parts, count: s.count }),
  key: (cfg: BatchnormBackwardFinalizeConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.train ? '-train' : '-inf'}`,
  body: (cfg: BatchnormBackwardFinalizeConfig) => wgsl`
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
  dbeta[ch] = s;
  dgamma[ch] = q;
  ${
    cfg.train
      ? `let inv = invStd[ch];
  let a = gamma[ch] * inv;
  coef[ch] = a;
  coef[u.c + ch] = a * inv * q / u.count;
  coef[2u * u.c + ch] = a * s / u.count;`
      : ''
  }
}`,
});
