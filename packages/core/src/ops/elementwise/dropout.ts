// Inverted dropout (Keras Dropout in training): y = x·mask/(1 − rate), mask[i] = hash(seed, i) ≥ rate·2³²
// (see kernels/elementwise/dropout.ts). The mask is regenerated from (seed, index), never stored:
// dropoutBackward(dy, rate, seed) applies the same mask and scale. Use a fresh seed per step.
import { dropout as dropoutKernel, vecConfig } from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { run as runKernel } from '../run.js';

function run(e: Engine, op: string, x: Tensor, rate: number, seed: number): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`${op}: rate must be in [0, 1), got ${rate}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`${op}: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  const y = e.alloc(x.shape, x.dtype);
  runKernel(e, dropoutKernel, vecConfig(x.size), { size: x.size, seed, rate }, { x, y });
  return y;
}

export function dropout(e: Engine, x: Tensor, rate: number, seed: number): Tensor {
  return run(e, 'dropout', x, rate, seed);
}

/** dx = dy·mask/(1 − rate) with the mask of dropout(x, rate, seed) (same rate, same seed). */
export function dropoutBackward(e: Engine, dy: Tensor, rate: number, seed: number): Tensor {
  return run(e, 'dropoutBackward', dy, rate, seed);
}
