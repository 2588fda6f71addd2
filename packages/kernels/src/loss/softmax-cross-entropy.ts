// Sparse softmax cross-entropy from logits, fused with its gradient. One row (example) per
// invocation, logits [N, K] row-major, labels i32 [N]:
//   loss[n]     = logsumexp(z[n]) − z[n, label]            (max-shifted, stable)
//   dlogits[n]  = (softmax(z[n]) − onehot(label)) / N       (gradient of the *mean* loss)
// A label outside [0, K) makes that row's loss and gradient NaN (so the mean loss reads NaN) rather
// than reading out of bounds; ops also offer a host-side label check with a clear error.
// The mean over N is reduced by loss-mean.ts.
import { defineKernel } from '../define-kernel.js';
import { ceilDiv, grid1d, MAIN_1D, flatIndex, wgsl } from '../wgsl.js';

export const LOSS_WG = 64;

/** WGSL: a quiet NaN made at run time (a constant NaN is a WGSL shader-creation error). */
export const NAN_WGSL = (anyU32: string) => `bitcast<f32>(0x7fc00000u | (${anyU32} & 0u))`;

export const softmaxCrossEntropyKernel = defineKernel({
  name: 'softmax-cross-entropy',
  uniforms: { n: 'u32', k: 'u32', invN: 'f32' },
  bindings: {
    logits: 'read',
    labels: { access: 'read', type: 'i32' },
    loss: 'read_write', // [N] per example
    dlogits: 'read_write', // [N, K]
  },
  workgroupSize: () => [LOSS_WG, 1, 1],
  dispatch: (_cfg: Record<string, never>, s: { n: number; k: number }) => ({ grid: grid1d(ceilDiv(s.n, LOSS_WG)), uniforms: { n: s.n, k: s.k, invN: 1 / s.n } }),
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let row = ${flatIndex(LOSS_WG)};
  if (row >= u.n) { return; }
  let base = row * u.k;
  let label = labels[row];
  if (label < 0 || u32(label) >= u.k) {
    let nan = ${NAN_WGSL('u.k')};
    loss[row] = nan;
    for (var j = 0u; j < u.k; j++) { dlogits[base + j] = nan; }
    return;
  }
  var m = logits[base];
  for (var j = 1u; j < u.k; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < u.k; j++) { s += exp(logits[base + j] - m); }
  let lse = m + log(s);
  loss[row] = lse - logits[base + u32(label)];
  let invS = 1.0 / s;
  for (var j = 0u; j < u.k; j++) {
    let p = exp(logits[base + j] - m) * invS;
    dlogits[base + j] = (p - select(0.0, 1.0, j == u32(label))) * u.invN;
  }
}`,
});
