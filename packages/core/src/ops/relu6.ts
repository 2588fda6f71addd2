// ReLU6 op: forward and its backward (dx from the saved output y and the incoming dy).
import { relu6 as relu6Kernel, relu6Backward as relu6BackwardKernel, grid1d, ceilDiv, RELU6_WG } from '@mnv2/kernels';
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { ShapeError } from '../gpu/errors.js';
import { paged } from './paging.js';

function vecLen(n: number) {
  const vec4 = n % 4 === 0;
  return { vec4, n: vec4 ? n / 4 : n };
}

export function relu6(e: Engine, x: Tensor): Tensor {
  return paged(e, 'relu6', [x], [{ batch: x.shape }], ([xp]) => [relu6Page(e, xp)])[0];
}

function relu6Page(e: Engine, x: Tensor): Tensor {
  const y = e.alloc(x.shape);
  const { vec4, n } = vecLen(x.size);
  e.dispatch(relu6Kernel, { vec4 }, { x, y }, { n }, grid1d(ceilDiv(n, RELU6_WG)));
  return y;
}

export function relu6Backward(e: Engine, y: Tensor, dy: Tensor): Tensor {
  if (y.size !== dy.size) throw new ShapeError('relu6Backward', 'y and dy must have the same shape', { y: y.shape, dy: dy.shape });
  return paged(e, 'relu6Backward', [y, dy.reshape(y.shape)], [{ batch: y.shape }], ([yp, dyp]) => [relu6BackwardPage(e, yp, dyp)])[0];
}

function relu6BackwardPage(e: Engine, y: Tensor, dy: Tensor): Tensor {
  const dx = e.alloc(y.shape);
  const { vec4, n } = vecLen(y.size);
  e.dispatch(relu6BackwardKernel, { vec4 }, { y, dy, dx }, { n }, grid1d(ceilDiv(n, RELU6_WG)));
  return dx;
}
