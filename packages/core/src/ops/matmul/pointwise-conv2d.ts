// Pointwise (1x1, stride 1) convolution as a matmul over the flattened pixels: NHWC x [N,H,W,Cin]
// is a row-major [N*H*W, Cin] matrix, the filter [Cin, Cout] multiplies it as it is.
//   forward          y  = X·W            [NHW, Cin] x [Cin, Cout]   (+ fused epilogue)
//   backward input   dx = dY·Wᵀ          [NHW, Cout] x [Cin, Cout]ᵀ (W read transposed)
//   backward filter  dW = Xᵀ·dY          [NHW, Cin]ᵀ x [NHW, Cout]  (X read transposed, split-K over NHW)
import type { Engine } from '../../gpu/engine.js';
import type { DType, Tensor } from '../../gpu/tensor.js';
import { ShapeError, assertShape } from '../../gpu/errors.js';
import type { Epilogue } from '../epilogue.js';
import { type MatmulVariant, matmulDispatch } from './matmul.js';
import { paged } from '../paging.js';

const pixels = (s: readonly number[]) => s[0] * s[1] * s[2];

function checkResidual(op: string, r: Tensor | undefined, out: number[]): void {
  if (r && (r.shape.length !== 4 || r.shape.some((d, i) => d !== out[i]))) throw new ShapeError(op, "residual must have the output's shape", { residual: r.shape, output: out });
}

export function pointwiseConv2d(
  e: Engine,
  x: Tensor,
  w: Tensor,
  opts: {
    epilogue?: Epilogue;
    variant?: Partial<MatmulVariant>;
    /** output storage (default: x's) */
    dtype?: DType;
    /** [N,H,W,Cout], added after the epilogue (an inverted residual block's shortcut, fused). */
    residual?: Tensor;
  } = {},
): Tensor {
  const op = 'pointwiseConv2d';
  assertShape(op, 'x', x.shape, 4);
  assertShape(op, 'w', w.shape, 2);
  const [n, h, wd, cin] = x.shape;
  if (w.shape[0] !== cin) throw new ShapeError(op, 'filter rows must equal input channels', { x: x.shape, w: w.shape });
  const cout = w.shape[1];
  const dtype = opts.dtype ?? x.dtype;
  const r = opts.residual;
  checkResidual(op, r, [n, h, wd, cout]);
  return paged(e, op, r ? [x, r] : [x], [{ batch: [n, h, wd, cout], dtype }], ([xp, rp]) => [
    matmulDispatch(e, op, xp, w, { M: pixels(xp.shape), N: cout, K: cin, transA: false, transB: false }, [xp.shape[0], h, wd, cout], { ...opts, dtype, residual: rp }),
  ])[0];
}

/** dx = dY·Wᵀ (+ residual: [N,H,W,Cin], a shortcut's gradient joining, fused) → [N,H,W,Cin]. */
export function pointwiseConv2dBackwardInput(e: Engine, dy: Tensor, w: Tensor, opts: { variant?: Partial<MatmulVariant>; residual?: Tensor } = {}): Tensor {
  const op = 'pointwiseConv2dBackwardInput';
  assertShape(op, 'dy', dy.shape, 4);
  assertShape(op, 'w', w.shape, 2);
  const [n, h, wd, cout] = dy.shape;
  if (w.shape[1] !== cout) throw new ShapeError(op, 'filter columns must equal dy channels', { dy: dy.shape, w: w.shape });
  const cin = w.shape[0];
  const r = opts.residual;
  checkResidual(op, r, [n, h, wd, cin]);
  return paged(e, op, r ? [dy, r] : [dy], [{ batch: [n, h, wd, cin] }], ([dyp, rp]) => [
    matmulDispatch(e, op, dyp, w, { M: pixels(dyp.shape), N: cin, K: cout, transA: false, transB: true }, [dyp.shape[0], h, wd, cin], { ...opts, residual: rp }),
  ])[0];
}

/** dW = Xᵀ·dY → [Cin, Cout], reducing over all N*H*W pixels. */
export function pointwiseConv2dBackwardFilter(e: Engine, x: Tensor, dy: Tensor, opts: { variant?: Partial<MatmulVariant> } = {}): Tensor {
  const op = 'pointwiseConv2dBackwardFilter';
  assertShape(op, 'x', x.shape, 4);
  assertShape(op, 'dy', dy.shape, 4);
  if (x.shape[0] !== dy.shape[0] || x.shape[1] !== dy.shape[1] || x.shape[2] !== dy.shape[2]) {
    throw new ShapeError(op, 'x and dy must have the same batch and spatial size', { x: x.shape, dy: dy.shape });
  }
  const cin = x.shape[3];
  const cout = dy.shape[3];
  return paged(e, op, [x, dy], ['sum'], ([xp, dyp]) => [
    matmulDispatch(e, op, xp, dyp, { M: cin, N: cout, K: pixels(xp.shape), transA: true, transB: false }, [cin, cout], opts),
  ])[0];
}
