// In-place accumulate acc += alpha * b (gradient accumulation, residual backward). `acc` and
// `b` must be different buffers (WebGPU forbids binding one buffer writable and readable at once).
import { defineFlatKernel } from './flat-loop.js';

export const elementwiseAddInPlace = defineFlatKernel({
  name: 'add-inplace',
  extra: { alpha: 'f32' },
  bindings: { acc: 'read_write', b: 'read' },
  each: () => 'acc[i] = acc[i] + u.alpha * b[i];',
});
