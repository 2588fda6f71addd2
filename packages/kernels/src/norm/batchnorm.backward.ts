// BatchNorm backward, reduction pass: per-channel partial sums over a slice of rows of
//   Σ dŷ  and  Σ dŷ·x̂,   dŷ = dy · relu6Mask(y) (mask only with a fused ReLU6), x̂ = (x − mean)·invStd,
// written as partials[p, c] and partials[parts + p, c] (finalized by batchnorm.backward-finalize).
// Inference mode (frozen statistics, Keras `training=False` with trainable gamma/beta) has no path
// through the statistics, so this same pass also writes dx = dŷ · gamma · invStd, saving a pass over
// the activation; there `mean`/`variance` are the moving statistics and invStd is computed here.
// Training mode reads the saved batch mean and invStd and leaves dx to batchnorm.backward-dx.
//
// The ReLU6 mask is read from the output y (bound as `mask`), or, in inference mode with
// `maskFromX`, recomputed from x as the forward computed y: pre = (x − mean)·(gamma·invStd) + beta
// with invStd = 1/sqrt(variance + eps), the expressions batchnorm-fold and batchnorm-apply use (and
// the depthwise kernels' inputBn applies with the fold's scale), so 0 < pre < 6 is y's mask (see
// batchnorm.backward-train.ts for why, and for the f16 exception: a y stored as f16 is read). Then
// `mask` binds beta, and y is not read at all (nor need it exist: the next unit may have applied the
// BN as it loaded x).
import { defineKernel } from '../define-kernel.js';
import { RELU6_FNS, vecType, wgsl } from '../wgsl.js';
import { BN_WG, BN_ROW_UNIFORMS, BN_PART_MAIN, bnRowDispatch } from './batchnorm-stats.js';

export interface BatchnormBackwardConfig {
  vec4: boolean;
  relu6: boolean;
  /** Frozen statistics: `variance` holds the moving variance and dx is written here. */
  inference: boolean;
  /** Inference mode with relu6: recompute the mask from x (`mask` binds beta) instead of reading y. */
  maskFromX?: boolean;
}

const fromX = (cfg: BatchnormBackwardConfig) => !!(cfg.relu6 && cfg.maskFromX);

export const batchnormBackward = defineKernel({
  name: 'batchnorm.backward',
  uniforms: { ...BN_ROW_UNIFORMS, epsilon: 'f32' },
  bindings: {
    x: { access: 'read', type: vecType },
    /** The mask's source: y (the op's output, [rows, c]), or beta ([c]) with maskFromX. */
    mask: { access: 'read', type: vecType },
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
  key: (cfg: BatchnormBackwardConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.relu6 ? '+relu6' : ''}${cfg.inference ? '-inf' : '-train'}${fromX(cfg) ? '-maskx' : ''}`,
  body: (cfg: BatchnormBackwardConfig) => {
    if (cfg.maskFromX && !cfg.inference) throw new Error('batchnorm.backward: maskFromX is for inference mode (training mode has batchnorm.backward-train)');
    const maskFn = cfg.vec4 ? 'relu6MaskV' : 'relu6Mask';
    // (pre written as batchnorm-apply writes it: (x − mu)·scale + beta)
    const g = (idx: string) =>
      !cfg.relu6 ? `dy[${idx}]` : fromX(cfg) ? `select(T(0.0), dy[${idx}], (pre > T(0.0)) & (pre < T(6.0)))` : `dy[${idx}] * ${maskFn}(mask[${idx}])`;
    return wgsl`
${RELU6_FNS}
alias T = ${vecType(cfg)};
${BN_PART_MAIN}
  let mu = mean[ch];
  let inv = ${cfg.inference ? 'T(1.0) / sqrt(variance[ch] + T(u.epsilon))' : 'variance[ch]'};
  ${cfg.inference ? 'let k = gamma[ch] * inv;' : ''}
  ${fromX(cfg) ? 'let b = mask[ch];' : ''}
  let r0 = p * u.rowsPerPart;
  let r1 = min(r0 + u.rowsPerPart, u.rows);
  var s = T(0.0);
  var q = T(0.0);
  for (var r = r0; r < r1; r++) {
    let idx = r * u.c + ch;
    let d = x[idx] - mu;
    ${fromX(cfg) ? 'let pre = d * k + b;' : ''}
    let g = ${g('idx')};
    s += g;
    q += g * (d * inv);
    ${cfg.inference ? 'dx[idx] = g * k;' : ''}
  }
  partials[p * u.c + ch] = s;
  partials[(u.parts + p) * u.c + ch] = q;
}`;
  },
});
