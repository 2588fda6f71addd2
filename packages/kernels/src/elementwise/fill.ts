// Fills a tensor with one value (zeroing gradient accumulators, constants).
import { defineFlatKernel } from './flat-loop.js';
import { vecType } from '../wgsl.js';

export const elementwiseFill = defineFlatKernel({
  name: 'fill',
  extra: { value: 'f32' },
  bindings: { y: 'read_write' },
  each: (cfg) => `y[i] = ${vecType(cfg)}(u.value);`,
});
