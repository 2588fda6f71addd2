// In-place x *= s (averaging accumulated gradients; t += alpha·t when both operands are one buffer).
import { defineFlatKernel } from './flat-loop.js';

export const elementwiseScaleInPlace = defineFlatKernel({
  name: 'scale-inplace',
  extra: { s: 'f32' },
  bindings: { x: 'read_write' },
  each: () => 'x[i] = u.s * x[i];',
});
