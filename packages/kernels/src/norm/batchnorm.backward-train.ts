// BatchNorm training backward in two passes over the activations (ops/norm/batchnorm.ts), reading
// only the BN input x and dy: the ReLU6 mask is recomputed from x and the saved statistics instead of
// being read from the output y (one tensor pass less in each pass), and on small tensors the finalize
// is folded into the dx pass.
//
//   pass 1 (batchnorm.backward-sums): per (part of the rows, channel group)
//       partials[p, c] = Σ dŷ,  partials[parts + p, c] = invStd·Σ dŷ·(x − mean)   (dŷ = dy·mask),
//       and, from the part-0 invocations, the per-channel values the dx pass needs packed after them:
//       partials[2·parts + k, c] = mean, invStd, scale = gamma·invStd, beta (k = 0..3). So the dx pass
//       binds one buffer for them instead of four and stays within WebGPU's default 8 storage buffers
//       per stage (the most modest browser adapters grant no more: tests/engine/default-limits.test.ts);
//   pass 2 (batchnorm.backward-dx-fused): every invocation first folds the `sumParts` partials of its
//       channel (when bnBackwardPlan says so: few parts, so this costs little next to its rows;
//       else it reads the coefficients batchnorm.backward-finalize wrote), then writes, for its rows,
//       dx = a·dŷ − b·(x − mean) − c with
//       dbeta = Σdŷ, dgamma = invStd·Σdŷ(x − mean), a = gamma·invStd, b = a·invStd·dgamma/M,
//       c = a·dbeta/M; the part-0 invocations of the page flagged `grads` also write dgamma, dbeta.
//
// The mask: the forward (batchnorm-apply) stores y = relu6((x − mean)·scale + beta) with
// scale = gamma·invStd (the f32 product batchnorm-stats-finalize wrote), and the mask read from y is
// 0 < y < 6. Here pre = (x − mean)·(gamma·invStd) + beta is the same expression on the same f32
// values, and 0 < clamp(pre, 0, 6) < 6  <=>  0 < pre < 6, so the masks agree (as long as the compiler
// treats the same expression alike: contracting a·b + c into an fma in one kernel and not the other
// would move pre by an ulp, which can flip the mask only for an output within an ulp of a kink).
// When y was stored as f16 its mask is that of f16(pre) (pre just below 6 is stored as 6): the
// kernels then read y (`maskFromY`, half the bytes of an f32 pass). Converting pre to f16 in registers
// was tried and does not round like the store on lavapipe (tests/kernels/f16.test.ts catches it).
import { defineKernel } from '../define-kernel.js';
import { vecCount, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { splitPlan } from '../split-plan.js';
import { BN_WG, BN_ROW_UNIFORMS, BN_PART_MAIN, PART_SUMS_HEAD, bnRowDispatch } from './batchnorm-stats.js';

export interface BatchnormBackwardTrainConfig {
  vec4: boolean;
  relu6: boolean;
  /**
   * Read the mask from y (bound as `y`) instead of recomputing it: for y stored as f16, whose mask is
   * that of f16(pre) (see above).
   */
  maskFromY: boolean;
}

export interface BatchnormBackwardDxConfig extends BatchnormBackwardTrainConfig {
  /**
   * Fold the partial sums in every invocation (and write dgamma/dbeta) instead of reading the
   * coefficients batchnorm.backward-finalize wrote.
   */
  fold: boolean;
}

/**
 * How batchNormTrainingBackward splits its passes over `rows` rows of `channels` channels. The dx pass
 * uses the default split (split-plan.ts). On small tensors (rows x lanes ≤ 32 Ki, i.e. ≤ 512 KiB of
 * f32 per tensor) the sums pass runs in parts = rowsPerPart/4 of the dx pass (at least 1), which every
 * dx invocation then folds itself (`fold`: 2·parts loads next to its 2·rowsPerPart, and one dispatch
 * less, which is what counts there). Larger tensors keep the default split for the sums and let
 * batchnorm.backward-finalize write the coefficients: folding there too (with ≥ 1024 sums invocations)
 * measured 4-5 % slower over the 224 b8 layers (the folded loads cost more than the dispatch saved).
 * `sumTarget`: invocations aimed at by the sums pass (its `target`), undefined for the default.
 */
export function bnBackwardPlan(cfg: VecConfig, rows: number, channels: number): { fold: boolean; sumTarget?: number } {
  const c = vecCount(cfg, channels);
  if (rows * c > 32768) return { fold: false };
  const parts = Math.max(1, Math.floor(splitPlan(rows, c).rowsPerPart / 4));
  return { fold: true, sumTarget: parts * c };
}

const key = (cfg: BatchnormBackwardTrainConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.relu6 ? '+relu6' : ''}${cfg.relu6 && cfg.maskFromY ? '-masky' : ''}`;

/** WGSL: per-channel values (mu, inv, sc, b) and `fn grad(d, dy)`-like inline of dŷ from d = x − mean. */
function maskedGrad(cfg: BatchnormBackwardTrainConfig, d: string, idx: string): string {
  if (!cfg.relu6) return `dy[${idx}]`;
  // pre written exactly as batchnorm-apply writes it: (x − mu)·scale + beta
  const m = cfg.maskFromY ? `y[${idx}]` : `(${d} * sc + b)`;
  return `select(T(0.0), dy[${idx}], (${m} > T(0.0)) & (${m} < T(6.0)))`;
}

/** Rows after the 2·parts partial sums that hold the packed per-channel values (see the header). */
export const BN_BACKWARD_PARAM_ROWS = 4;

/** WGSL: this channel group's per-channel values, from the parameters (sums pass) or packed (dx pass). */
const perChannelFromParams = wgsl`let mu = mean[ch];
  let inv = invStd[ch];
  let sc = gamma[ch] * inv;
  let b = beta[ch];`;
const perChannelPacked = wgsl`let pr = 2u * u.sumParts * u.c + ch;
  let mu = params[pr];
  let inv = params[pr + u.c];
  let sc = params[pr + 2u * u.c];
  let b = params[pr + 3u * u.c];`;

/** What both passes read: x, dy (y only for a mask from y). */
const INPUTS = {
    x: { access: 'read', type: vecType },
    dy: { access: 'read', type: vecType },
    /** Read for the mask only with maskFromY (else bind any tensor of x's shape, e.g. x). */
    y: { access: 'read', type: vecType },
} as const;

export const batchnormBackwardSums = defineKernel({
  name: 'batchnorm.backward-sums',
  uniforms: BN_ROW_UNIFORMS,
  bindings: {
    ...INPUTS,
    gamma: { access: 'read', type: vecType },
    beta: { access: 'read', type: vecType },
    mean: { access: 'read', type: vecType },
    invStd: { access: 'read', type: vecType },
    partials: { access: 'read_write', type: vecType }, // [2*parts + BN_BACKWARD_PARAM_ROWS, c]
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: BatchnormBackwardTrainConfig, s: { rows: number; channels: number; target?: number }) => bnRowDispatch(cfg, s.rows, s.channels, s.target),
  key,
  body: (cfg: BatchnormBackwardTrainConfig) => wgsl`
alias T = ${vecType(cfg)};
${BN_PART_MAIN}
  ${perChannelFromParams}
  if (p == 0u) {
    let pr = 2u * u.parts * u.c + ch;
    partials[pr] = mu;
    partials[pr + u.c] = inv;
    partials[pr + 2u * u.c] = sc;
    partials[pr + 3u * u.c] = b;
  }
${PART_SUMS_HEAD}
  for (; r + 1u < r1; r += 2u) {
    let i0 = r * u.c + ch;
    let i1 = i0 + u.c;
    let d0 = x[i0] - mu;
    let d1 = x[i1] - mu;
    let g0 = ${maskedGrad(cfg, 'd0', 'i0')};
    let g1 = ${maskedGrad(cfg, 'd1', 'i1')};
    s0 += g0; q0 += g0 * d0;
    s1 += g1; q1 += g1 * d1;
  }
  if (r < r1) {
    let i0 = r * u.c + ch;
    let d0 = x[i0] - mu;
    let g0 = ${maskedGrad(cfg, 'd0', 'i0')};
    s0 += g0; q0 += g0 * d0;
  }
  partials[p * u.c + ch] = s0 + s1;
  partials[(u.parts + p) * u.c + ch] = (q0 + q1) * inv;
}`,
});

export const batchnormBackwardDxFused = defineKernel({
  name: 'batchnorm.backward-dx-fused',
  // sumParts: the partials' parts (all pages); count: M = rows of the whole batch; grads: 1 on the
  // page whose part-0 invocations write dgamma/dbeta (fold only)
  uniforms: { ...BN_ROW_UNIFORMS, sumParts: 'u32', count: 'f32', grads: 'u32' },
  bindings: {
    ...INPUTS,
    /** The sums pass's output [2*sumParts + BN_BACKWARD_PARAM_ROWS, c], read for its packed per-channel rows. */
    params: { access: 'read', type: vecType },
    /** fold: the partial sums (the same buffer as params); else the coefficients [3, c] of backward-finalize. */
    sums: { access: 'read', type: vecType },
    dx: { access: 'read_write', type: vecType },
    dgamma: { access: 'read_write', type: vecType },
    dbeta: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [BN_WG, 1, 1],
  dispatch: (cfg: BatchnormBackwardDxConfig, s: { rows: number; channels: number; sumParts: number; count: number; grads: boolean; target?: number }) => {
    const d = bnRowDispatch(cfg, s.rows, s.channels, s.target);
    return { grid: d.grid, uniforms: { ...d.uniforms, sumParts: s.sumParts, count: s.count, grads: s.grads ? 1 : 0 } };
  },
  key: (cfg: BatchnormBackwardDxConfig) => `${key(cfg)}${cfg.fold ? '-fold' : ''}`,
  body: (cfg: BatchnormBackwardDxConfig) => wgsl`
alias T = ${vecType(cfg)};
${BN_PART_MAIN}
  ${perChannelPacked}
  ${
    cfg.fold
      ? `var s = T(0.0);
  var q = T(0.0);
  for (var k = 0u; k < u.sumParts; k++) {
    s += sums[k * u.c + ch];
    q += sums[(u.sumParts + k) * u.c + ch];
  }
  if (p == 0u && u.grads != 0u) {
    dbeta[ch] = s;
    dgamma[ch] = q;
  }
  let a = sc;
  let bq = a * inv * q / u.count;
  let c0 = a * s / u.count;`
      : `let a = sums[ch];
  let bq = sums[u.c + ch];
  let c0 = sums[2u * u.c + ch];`
  }
  let r1 = min((p + 1u) * u.rowsPerPart, u.rows);
  for (var r = p * u.rowsPerPart; r < r1; r++) {
    let idx = r * u.c + ch;
    let d = x[idx] - mu;
    let g = ${maskedGrad(cfg, 'd', 'idx')};
    dx[idx] = a * g - bq * d - c0;
  }
}`,
});
