// Small helpers of the element-wise ops.
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';

/** vec4 binding when the length is a multiple of 4; n in units of the bound type. */
export function vecLen(n: number): { vec4: boolean; n: number } {
  const vec4 = n % 4 === 0;
  return { vec4, n: vec4 ? n / 4 : n };
}

export function assertSameShape(op: string, a: Tensor, b: Tensor, an = 'a', bn = 'b'): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(op, `${an} and ${bn} must have the same shape`, { [an]: a.shape, [bn]: b.shape });
  }
}
