// Sigmoid binary cross-entropy from logits, fused with its gradient, one example per invocation:
//   loss[n]    = max(z, 0) − z·y + log(1 + exp(−|z|))     (stable for any z)
//   dlogits[n] = (sigmoid(z) − y) / N                       (gradient of the mean loss)
// Labels are f32 in [0, 1] (soft labels allowed). The mean over N is reduced by loss-mean.ts.
import { defineKernel } from '../define-kernel.js';
import { ceilDiv, grid1d, MAIN_1D, flatIndex, wgsl } from '../wgsl.js';
import { LOSS_WG } from './softmax-cross-entropy.js';

export const sigmoidBinaryCrossEntropyKernel = defineKernel({
  name: 'sigmoid-binary-cross-entropy',
  uniforms: { n: 'u32', invN: 'f32' },
  bindings: {
    logits: 'read',
    labels: 'read',
    loss: 'read_write',
    dlogits: 'read_write',
  },
  workgroupSize: () => [LOSS_WG, 1, 1],
  dispatch: (_cfg: Record<string, never>, s: { n: number }) => ({ grid: grid1d(ceilDiv(s.n, LOSS_WG)), uniforms: { n: s.n, invN: 1 / s.n } }),
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(LOSS_WG)};
  if (i >= u.n) { return; }
  let z = logits[i];
  let y = labels[i];
  let e = exp(-abs(z));
  loss[i] = max(z, 0.0) - z * y + log(1.0 + e);
  // sigmoid(z) without overflow: 1/(1+e) for z >= 0, e/(1+e) for z < 0.
  let sig = select(e, 1.0, z >= 0.0) / (1.0 + e);
  dlogits[i] = (sig - y) * u.invN;
}`,
});
