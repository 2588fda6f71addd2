// Sums a vector into one value times `scale` (the mean loss: scale = 1/N), in ONE workgroup: each of
// the 64 invocations sums a strided slice, then one barrier and invocation 0 adds the 64 partials.
// Loss vectors are batch-sized, so one workgroup is enough; no atomics.
import { defineKernel } from '../define-kernel.js';
import { wgsl } from '../wgsl.js';

export const LOSS_MEAN_WG = 64;

export const lossMean = defineKernel({
  name: 'loss-mean',
  uniforms: { n: 'u32', scale: 'f32' },
  bindings: { x: 'read', y: 'read_write' }, // y: [1]
  workgroupSize: () => [LOSS_MEAN_WG, 1, 1],
  dispatch: (_cfg: Record<string, never>, s: { n: number }) => ({ grid: [1, 1, 1], uniforms: { n: s.n, scale: 1 / s.n } }), // one workgroup: the mean of n values
  body: () => wgsl`
var<workgroup> part: array<f32, ${LOSS_MEAN_WG}>;
@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < u.n; i += WG_X) { s += x[i]; }
  part[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var t = 0.0;
    for (var j = 0u; j < WG_X; j++) { t += part[j]; }
    y[0] = t * u.scale;
  }
}`,
});
