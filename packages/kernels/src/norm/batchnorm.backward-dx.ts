// BatchNorm training backward, pass 3: dx = a·dŷ − b·(x − mean) − c per element, with dŷ = dy·mask
// and the per-channel coefficients from batchnorm.backward-finalize (x − mean kept as a difference so
// a large mean does not cancel precision away). Row-loop layout like batchnorm-apply.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, RELU6_FNS, flatIndex, vecType, wgsl } from '../wgsl.js';
import { BN_WG, BN_ROW_UNIFORMS, bnRowDispatch, bnRowLoopMain } from './batchnorm-stats.js';
import type { BatchnormApplyConfig } from './batchnorm-apply.js';

export const batchnormBackwardDx = defineKernel({
  name: 'batchnorm.backward-dx',
  uniforms: BN_ROW_UNIFORMS,
  bindings: {
    x: { access: 'read', type: vecType },
    y: { access: 'read', type: vecType },
    dy: { access: 'read', type: vecType },
    mean: { access: 'read', type: vecType },
    coef: { access: 'read', type: vecType },
    dx: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: BatchnormApplyConfig, s: { rows: number; channels: number }) => bnRowDispatch(cfg, s.rows, s.channels),
  key: (cfg: BatchnormApplyConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.relu6 ? '+relu6' : ''}`,
  body: (cfg: BatchnormApplyConfig) => wgsl`
${RELU6_FNS}${bnRowLoopMain(
    `let mu = mean[ch];
  let a = coef[ch];
  let b = coef[u.c + ch];
  let c0 = coef[2u * u.c + ch];`,
    `let g = ${cfg.relu6 ? `dy[idx] * ${cfg.vec4 ? 'relu6MaskV' : 'relu6Mask'}(y[idx])` : 'dy[idx]'};
    dx[idx] = a * g - b * (x[idx] - mu) - c0;`,
  )}`,
});
