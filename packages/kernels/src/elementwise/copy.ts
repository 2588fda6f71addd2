// y = x, as a compute kernel (flat loop, vec4 when the length allows). Not used by the network: it is
// the memory-bound yardstick of `mnv2 bench kernels` (the copy-bandwidth ceiling that the
// element-wise, BatchNorm and depthwise kernels are compared with), one load and one store per element.
import { defineFlatKernel } from './flat-loop.js';

export const copyKernel = defineFlatKernel({
  name: 'copy',
  extra: {},
  bindings: { x: 'read', y: 'read_write' },
  each: () => 'y[i] = x[i];',
});
