// Row softmax of logits [N, K] (predictions), one row per invocation, max-shifted.
import { defineKernel } from '../define-kernel.js';
import { ceilDiv, grid1d, MAIN_1D, flatIndex, wgsl } from '../wgsl.js';
import { LOSS_WG } from './softmax-cross-entropy.js';

export const softmaxRows = defineKernel({
  name: 'softmax',
  uniforms: { n: 'u32', k: 'u32' },
  bindings: { logits: 'read', probs: 'read_write' },
  workgroupSize: () => [LOSS_WG, 1, 1],
  dispatch: (_cfg: Record<string, never>, s: { n: number; k: number }) => ({ grid: grid1d(ceilDiv(s.n, LOSS_WG)), uniforms: { n: s.n, k: s.k } }),
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let row = ${flatIndex(LOSS_WG)};
  if (row >= u.n) { return; }
  let base = row * u.k;
  var m = logits[base];
  for (var j = 1u; j < u.k; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < u.k; j++) { s += exp(logits[base + j] - m); }
  let invS = 1.0 / s;
  for (var j = 0u; j < u.k; j++) { probs[base + j] = exp(logits[base + j] - m) * invS; }
}`,
});
