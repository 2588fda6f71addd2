// y = s * x (loss scaling, averaging accumulated gradients).
import { defineFlatKernel } from './flat-loop.js';

export const elementwiseScale = defineFlatKernel({
  name: 'scale',
  extra: { s: 'f32' },
  bindings: { x: 'read', y: 'read_write' },
  each: () => 'y[i] = u.s * x[i];',
});
