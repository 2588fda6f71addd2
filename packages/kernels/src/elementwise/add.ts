// Element-wise sum y = a + b of two same-shape tensors (residual connections). Its backward is the
// identity on both inputs (no kernel). vec4 when the length is a multiple of 4.
import { FLAT_WG, defineFlatKernel } from './flat-loop.js';

/** Workgroup size of the element-wise family (= FLAT_WG of the flat loop). */
export const ELEMENTWISE_WG = FLAT_WG;

export const elementwiseAdd = defineFlatKernel({
  name: 'add',
  extra: {},
  bindings: { a: 'read', b: 'read', y: 'read_write' },
  each: () => 'y[i] = a[i] + b[i];',
});
