// BatchNorm backward, reduction pass: per-channel partial sums over a slice of rows of
//   Σ dŷ  and  Σ dŷ·x̂,   dŷ = dy · relu6Mask(y) (mask only with a fused ReLU6), x̂ = (x − mean)·invStd,
// written as partials[p, c] and partials[parts + p, c] (finalized by batchnorm.backward-finalize).
// Inference mode (frozen statistics, Keras `training=False` with trainable gamma/beta) has no path
// through the statistics, so this same pass also writes dx = dŷ · gamma · invStd, saving a pass over
// the activation; there `mean`/`variance` are the moving statistics and invStd is computed here.
// Training mode reads the saved batch mean and invStd and leaves dx to batchnorm.backward-dx.
import { defineKernel } from '../define-kernel.js';
import { RELU6_FNS, vecType, wgsl } from '../wgsl.js';
import { BN_WG, BN_ROW_UNIFORMS, BN_PART_MAIN, bnRowDispatch } from './batchnorm-stats.js';

export interface BatchnormBackwardConfig {
  vec4: boolean;
  relu6: boolean;
  /** Frozen statistics: `variance` holds the moving variance and dx is written here. */
  inference: boolean;
}

export const batchnormBackward = defineKernel({
  name: 'batchnorm.backward',
  uniforms: { ...BN_ROW_UNIFORMS, epsilon: 'f32' },
  bindings: {
    x: { access: 'read', type: vecType },
    y: { access: 'read', type: vecType },
    dy: { access: 'read', type: vecType },
    gamma: { access: 'read', type: vecType },
    mean: { access: 'read', type: vecType },
    /** Inference: the moving variance; training: the saved invStd. */
    variance: { access: 'read', type: vecType },
    partials: { access: 'read_write', type: vecType }, // [2*parts, c]
    dx: { access: 'read_write', type: vecType }, // written in inference mode only
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: BatchnormBackwardConfig, s: { rows: number; channels: number; epsilon: number }) => {
    const d = bnRowDispatch(cfg, s.rows, s.channels);
    return { grid: d.grid, uniforms: { ...d.uniforms, epsilon: s.epsilon } };
  },
  key: (cfg: BatchnormBackwardConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.relu6 ? '+relu6' : ''}${cfg.inference ? '-inf' : '-train'}`,
  body: (cfg: BatchnormBackwardConfig) => {
    const mask = cfg.vec4 ? 'relu6MaskV' : 'relu6Mask';
    const g = (idx: string) => (cfg.relu6 ? `dy[${idx}] * ${mask}(y[${idx}])` : `dy[${idx}]`);
    return wgsl`
${RELU6_FNS}
alias T = ${vecType(cfg)};
${BN_PART_MAIN}
  let mu = mean[ch];
  let inv = ${cfg.inference ? 'T(1.0) / sqrt(variance[ch] + T(u.epsilon))' : 'variance[ch]'};
  ${cfg.inference ? 'let k = gamma[ch] * inv;' : ''}
  let r0 = p * u.rowsPerPart;
  let r1 = min(r0 + u.rowsPerPart, u.rows);
  var s = T(0.0);
  var q = T(0.0);
  for (var r = r0; r < r1; r++) {
    let idx = r * u.c + ch;
    let g = ${g('idx')};
    s += g;
    q += g * ((x[idx] - mu) * inv);
    ${cfg.inference ? 'dx[idx] = g * k;' : ''}
  }
  partials[p * u.c + ch] = s;
  partials[(u.parts + p) * u.c + ch] = q;
}`;
  },
});
