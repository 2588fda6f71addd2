// Number of correct predictions, as f32 into a 1-element tensor, in ONE workgroup (batch-sized
// input): each invocation scores a strided slice of rows, one barrier, invocation 0 adds up.
//   multi-class (K ≥ 2): argmax over the row (first index on ties, like tf.argmax) == label (i32);
//                        labels outside [0, K) never count as correct;
//   binary (K = 1):      (logit > 0) == (label > 0.5), label f32 or i32 0/1.
import { defineKernel } from '../define-kernel.js';
import { wgsl } from '../wgsl.js';
import { LOSS_MEAN_WG } from './loss-mean.js';

export interface AccuracyConfig {
  binary: boolean;
  labelType: 'i32' | 'f32';
}

export const accuracyCount = defineKernel({
  name: 'accuracy',
  uniforms: { n: 'u32', k: 'u32' },
  bindings: {
    logits: 'read',
    labels: { access: 'read', type: (cfg: AccuracyConfig) => cfg.labelType },
    count: 'read_write', // [1]
  },
  workgroupSize: () => [LOSS_MEAN_WG, 1, 1],
  dispatch: (_cfg: AccuracyConfig, s: { n: number; k: number }) => ({ grid: [1, 1, 1], uniforms: { n: s.n, k: s.k } }), // one workgroup counts all rows
  key: (cfg: AccuracyConfig) => `${cfg.binary ? 'binary' : 'argmax'}-${cfg.labelType}`,
  body: (cfg: AccuracyConfig) => wgsl`
var<workgroup> part: array<f32, ${LOSS_MEAN_WG}>;
fn correct(row: u32) -> bool {
${
  cfg.binary
    ? `  return (logits[row] > 0.0) == (f32(labels[row]) > 0.5);`
    : `  let base = row * u.k;
  var best = 0u;
  var m = logits[base];
  for (var j = 1u; j < u.k; j++) {
    let v = logits[base + j];
    if (v > m) { m = v; best = j; }
  }
  return ${cfg.labelType === 'i32' ? 'labels[row] == i32(best)' : 'f32(best) == labels[row]'};`
}
}
@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var row = lid; row < u.n; row += WG_X) { s += select(0.0, 1.0, correct(row)); }
  part[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var t = 0.0;
    for (var j = 0u; j < WG_X; j++) { t += part[j]; }
    count[0] = t;
  }
}`,
});
