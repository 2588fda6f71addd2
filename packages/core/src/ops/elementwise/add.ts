// Element-wise add (residual connections) and in-place accumulation (gradient accumulation), plus
// fill and scalar-multiply helpers. Add's backward is the identity on both inputs: pass dy through
// (or addInPlace it into an accumulator).
import {
  elementwiseAdd,
  elementwiseAddInPlace,
  copyKernel,
  elementwiseFill,
  elementwiseScale,
  elementwiseScaleInPlace,
  vecConfig,
} from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { DType, Tensor } from '../../gpu/tensor.js';
import { assertSameShape } from './shared.js';
import { run } from '../run.js';
import { paged, pagedInPlace } from '../paging.js';


/**
 * y = x through a compute kernel (one load and one store per element). The engine copies tensors with
 * buffer copies; this op exists as the memory-bound yardstick of `mnv2 bench kernels`.
 */
export function copyByKernel(e: Engine, x: Tensor): Tensor {
  return paged(e, 'copyByKernel', [x], [{ batch: x.shape, dtype: x.dtype }], ([xp]) => {
    const y = e.alloc(xp.shape, xp.dtype);
    run(e, copyKernel, vecConfig(xp.size), { size: xp.size }, { x: xp, y });
    return [y];
  })[0];
}

/**
 * x stored as `dtype` (f32 <-> f16: the copy kernel reads one storage and writes the other; see
 * kernels/src/half.ts). Returns x itself when it already is.
 */
export function cast(e: Engine, x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if (!['f32', 'f16'].includes(x.dtype) || !['f32', 'f16'].includes(dtype)) throw new Error(`cast: only f32 <-> f16, got ${x.dtype} -> ${dtype}`);
  return paged(e, 'cast', [x], [{ batch: x.shape, dtype }], ([xp]) => {
    const y = e.alloc(xp.shape, dtype);
    run(e, copyKernel, vecConfig(xp.size), { size: xp.size }, { x: xp, y });
    return [y];
  })[0];
}

/** y = a + b (same shapes, no broadcasting). */
export function add(e: Engine, a: Tensor, b: Tensor): Tensor {
  assertSameShape('add', a, b);
  return paged(e, 'add', [a, b], [{ batch: a.shape, dtype: a.dtype }], ([ap, bp]) => [addPage(e, ap, bp)])[0];
}

function addPage(e: Engine, a: Tensor, b: Tensor): Tensor {
  const y = e.alloc(a.shape, a.dtype);
  run(e, elementwiseAdd, vecConfig(a.size), { size: a.size }, { a, b, y });
  return y;
}

/** target += alpha·b in place (alpha defaults to 1). `target` and `b` must be different tensors. */
export function addInPlace(e: Engine, target: Tensor, b: Tensor, alpha = 1): void {
  assertSameShape('addInPlace', target, b, 'target', 'b');
  if (!Number.isFinite(alpha)) throw new RangeError(`addInPlace: alpha must be finite, got ${alpha}`);
  if (target.buffer === b.buffer) {
    // WebGPU cannot bind one buffer writable and read-only in one dispatch: t += alpha·t is a scale.
    mulScalarInPlace(e, target, 1 + alpha);
    return;
  }
  pagedInPlace(e, 'addInPlace', target, [b], (t, [bp]) => addInPlacePage(e, t, bp, alpha));
}

function addInPlacePage(e: Engine, target: Tensor, b: Tensor, alpha: number): void {
  run(e, elementwiseAddInPlace, vecConfig(target.size), { size: target.size, alpha }, { acc: target, b });
}

/** Sets every element of `t` to `value`. */
export function fillInPlace(e: Engine, t: Tensor, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`fillInPlace: value must be finite, got ${value}`);
  pagedInPlace(e, 'fillInPlace', t, [], (tp) => fillPage(e, tp, value));
}

function fillPage(e: Engine, t: Tensor, value: number): void {
  run(e, elementwiseFill, vecConfig(t.size), { size: t.size, value }, { y: t });
}

/** y = s·x. */
export function mulScalar(e: Engine, x: Tensor, s: number): Tensor {
  if (!Number.isFinite(s)) throw new RangeError(`mulScalar: scalar must be finite, got ${s}`);
  return paged(e, 'mulScalar', [x], [{ batch: x.shape, dtype: x.dtype }], ([xp]) => [mulScalarPage(e, xp, s)])[0];
}

function mulScalarPage(e: Engine, x: Tensor, s: number): Tensor {
  const y = e.alloc(x.shape, x.dtype);
  run(e, elementwiseScale, vecConfig(x.size), { size: x.size, s }, { x, y });
  return y;
}

/** x *= s in place. */
export function mulScalarInPlace(e: Engine, x: Tensor, s: number): void {
  if (!Number.isFinite(s)) throw new RangeError(`mulScalarInPlace: scalar must be finite, got ${s}`);
  pagedInPlace(e, 'mulScalarInPlace', x, [], (xp) => mulScalarInPlacePage(e, xp, s));
}

function mulScalarInPlacePage(e: Engine, x: Tensor, s: number): void {
  run(e, elementwiseScaleInPlace, vecConfig(x.size), { size: x.size, s }, { x });
}
