// Applies BatchNorm as y = (x − mean[c]) * scale[c] + beta[c] (scale = gamma·invStd) with an optional
// fused ReLU6, over an NHWC tensor (channels innermost). Centered rather than the folded
// x·scale + shift: with |mean| ≫ std the fold cancels digits away (|mean·scale|·2⁻²⁴ absolute error),
// at the price of one more per-channel load (cached). Serves inference (moving statistics) and
// training (batch statistics), optionally + a residual (the block's shortcut, fused here in the
// training forward). vec4 over channels when C % 4 == 0.
// Laid out like the reductions (split-plan.ts): one invocation per (part of the rows, channel group)
// loops over its rows with the channel's parameters in registers. On lavapipe that is ~3x faster
// than one element per invocation with a per-element `i % C` (integer division is scalarized).
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, RELU6_FNS, flatIndex, vecType, wgsl } from '../wgsl.js';
import { BN_WG, BN_ROW_UNIFORMS, bnRowDispatch, bnRowLoopMain } from './batchnorm-stats.js';

export interface BatchnormApplyConfig {
  vec4: boolean;
  relu6: boolean;
  /** y = BN(x) + residual (an inverted residual block's shortcut, no ReLU6 there); absent: false. */
  residual?: boolean;
}

export const batchnormApply = defineKernel({
  name: 'batchnorm-apply',
  uniforms: BN_ROW_UNIFORMS,
  bindings: {
    x: { access: 'read', type: vecType },
    mean: { access: 'read', type: vecType },
    scale: { access: 'read', type: vecType },
    beta: { access: 'read', type: vecType },
    residual: { access: 'read', type: vecType }, // (a placeholder unless cfg.residual)
    y: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: BatchnormApplyConfig, s: { rows: number; channels: number }) => bnRowDispatch(cfg, s.rows, s.channels),
  key: (cfg: BatchnormApplyConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.relu6 ? '+relu6' : ''}${cfg.residual ? '+res' : ''}`,
  body: (cfg: BatchnormApplyConfig) => {
    if (cfg.residual && cfg.relu6) throw new Error('batchnorm-apply: a residual is added after the BatchNorm, with no ReLU6');
    return wgsl`
${RELU6_FNS}${bnRowLoopMain(
      `let mu = mean[ch];
  let sc = scale[ch];
  let b = beta[ch];`,
      `y[idx] = ${cfg.relu6 ? (cfg.vec4 ? 'relu6v' : 'relu6') : ''}((x[idx] - mu) * sc + b)${cfg.residual ? ' + residual[idx]' : ''};`,
    )}`;
  },
});
