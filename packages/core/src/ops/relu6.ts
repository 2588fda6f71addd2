// ReLU6 op: forward and its backward (dx from the saved output y and the incoming dy).
import { relu6 as relu6Kernel, relu6Backward as relu6BackwardKernel, vecConfig } from '@mnv2/kernels';
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { ShapeError } from '../gpu/errors.js';
import { paged } from './paging.js';
import { run } from './run.js';

export function relu6(e: Engine, x: Tensor): Tensor {
  return paged(e, 'relu6', [x], [{ batch: x.shape, dtype: x.dtype }], ([xp]) => [relu6Page(e, xp)])[0];
}

function relu6Page(e: Engine, x: Tensor): Tensor {
  const y = e.alloc(x.shape, x.dtype);
  run(e, relu6Kernel, vecConfig(x.size), { size: x.size }, { x, y });
  return y;
}

export function relu6Backward(e: Engine, y: Tensor, dy: Tensor): Tensor {
  if (y.size !== dy.size) throw new ShapeError('relu6Backward', 'y and dy must have the same shape', { y: y.shape, dy: dy.shape });
  return paged(e, 'relu6Backward', [y, dy.reshape(y.shape)], [{ batch: y.shape }], ([yp, dyp]) => [relu6BackwardPage(e, yp, dyp)])[0];
}

function relu6BackwardPage(e: Engine, y: Tensor, dy: Tensor): Tensor {
  const dx = e.alloc(y.shape);
  run(e, relu6BackwardKernel, vecConfig(y.size), { size: y.size }, { y, dy, dx });
  return dx;
}
