// Small helpers of the element-wise ops.
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';

export function assertSameShape(op: string, a: Tensor, b: Tensor, an = 'a', bn = 'b'): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(op, `${an} and ${bn} must have the same shape`, { [an]: a.shape, [bn]: b.shape });
  }
}
