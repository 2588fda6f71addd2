// Dense (fully connected) layer y = x·W + b with optional plain ReLU (the CIFAR-style Dense(128,
// relu) head), and its backward. Forward: one matmul with the bias as epilogue shift and the ReLU
// fused. Backward: db = column sum of dz (dz = dy masked by y > 0 with ReLU, written by the same
// pass), dx = dz·Wᵀ, dW = xᵀ·dz (transposes read in place).
import { colsum, colsumReluMask, vecConfig } from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { DType, Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import { type MatmulVariant, assertMatrix, matmulDispatch } from './matmul.js';
import { run } from '../run.js';

export function dense(
  e: Engine,
  x: Tensor,
  w: Tensor,
  b: Tensor,
  opts: { relu?: boolean; variant?: Partial<MatmulVariant>; /** output storage (default: x's) */ dtype?: DType } = {},
): Tensor {
  const op = 'dense';
  assertMatrix(op, 'x', x);
  assertMatrix(op, 'w', w);
  const [batch, inF] = x.shape;
  const [wIn, outF] = w.shape;
  if (wIn !== inF) throw new ShapeError(op, 'weight rows must equal input features', { x: x.shape, w: w.shape });
  if (b.shape.length !== 1 || b.size !== outF) throw new ShapeError(op, 'bias must be [out]', { w: w.shape, b: b.shape });
  return matmulDispatch(e, op, x, w, { M: batch, N: outF, K: inF, transA: false, transB: false }, [batch, outF], {
    epilogue: { shift: b },
    relu: !!opts.relu,
    variant: opts.variant,
    dtype: opts.dtype ?? x.dtype,
  });
}

/** Column sums of a [R, C] matrix → [C] (the bias gradient). */
export function columnSum(e: Engine, x: Tensor): Tensor {
  assertMatrix('columnSum', 'x', x);
  const [R, C] = x.shape;
  const out = e.alloc([C]);
  run(e, colsum, vecConfig(C), { R, C }, { x, out });
  return out;
}

export function denseBackward(
  e: Engine,
  x: Tensor,
  w: Tensor,
  dy: Tensor,
  opts: { y?: Tensor; relu?: boolean } = {},
): { dx: Tensor; dw: Tensor; db: Tensor } {
  const op = 'denseBackward';
  assertMatrix(op, 'x', x);
  assertMatrix(op, 'w', w);
  assertMatrix(op, 'dy', dy);
  const [batch, inF] = x.shape;
  const [wIn, outF] = w.shape;
  if (wIn !== inF) throw new ShapeError(op, 'weight rows must equal input features', { x: x.shape, w: w.shape });
  if (dy.shape[0] !== batch || dy.shape[1] !== outF) throw new ShapeError(op, 'dy must be [batch, out]', { x: x.shape, w: w.shape, dy: dy.shape });
  let dz = dy;
  let db: Tensor;
  if (opts.relu) {
    const y = opts.y;
    if (!y) throw new ShapeError(op, 'relu backward needs the forward output y', { dy: dy.shape });
    if (y.shape.length !== 2 || y.shape[0] !== batch || y.shape[1] !== outF) throw new ShapeError(op, 'y must have the shape of dy', { y: y.shape, dy: dy.shape });
    dz = e.alloc([batch, outF]);
    db = e.alloc([outF]);
    run(e, colsumReluMask, vecConfig(outF), { R: batch, C: outF }, { dy, y, dz, out: db });
  } else {
    db = columnSum(e, dy);
  }
  const dx = matmulDispatch(e, op, dz, w, { M: batch, N: inF, K: outF, transA: false, transB: true }, [batch, inF]);
  const dw = matmulDispatch(e, op, x, dz, { M: inF, N: outF, K: batch, transA: true, transB: false }, [inF, outF]);
  if (dz !== dy) dz.dispose();
  return { dx, dw, db };
}
