// Full 2D convolution (MobileNetV2's stem): forward with fused epilogue, gradient w.r.t. the input and
// w.r.t. the filter. NHWC activations, HWIO filters [k,k,cin,cout]. See padding.ts for the modes.
import {
  conv2d as conv2dKernel,
  conv2dBackwardInput as conv2dBackwardInputKernel,
  conv2dBackwardFilter as conv2dBackwardFilterKernel,
  convFilterReduce,
  conv2dFilterDispatch,
  vecConfig,
} from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { resolveEpilogue } from '../epilogue.js';
import { paged } from '../paging.js';
import { type ConvOptions, checkConvOptions, checkDyShape, checkFilter, checkRank, convGeometry, convShapes, withPartials } from './conv-common.js';
import { run } from '../run.js';

// Register-blocking factors, measured on lavapipe with the 224² stem (Cin 3, Cout 32, stride 2):
// forward 2.0 ms with 8 outputs along W per invocation (2.5 with 4, 3.0-3.6 with 2); backward-input
// 2.2-2.5 ms with 8 inputs (3.8-4.7 with 2); filter gradient 1.4 ms with 2 (1.6-1.8 with 1).
/** Outputs (forward) / inputs (backward-input, a multiple of the stride) along W per invocation. */
const RUN = 8;
/** Outputs along W per work item of the filter gradient. */
const FILTER_RUN = 2;

/** y = epilogue(conv(x, w)): x [N,H,W,Cin], w [k,k,Cin,Cout] → [N,outH,outW,Cout]. Paged over the batch. */
export function conv2d(e: Engine, x: Tensor, w: Tensor, opts: ConvOptions): Tensor {
  const yShape = convOutShape('conv2d', x, w, opts);
  return paged(e, 'conv2d', [x], [{ batch: yShape, dtype: opts.dtype ?? x.dtype }], ([xp]) => [conv2dPage(e, xp, w, opts)])[0];
}

/** [N, outH, outW, w's last dim] for input x; x's shape when the arguments are invalid (the page op names the error). */
export function convOutShape(op: string, x: Tensor, w: Tensor, opts: ConvOptions): number[] {
  checkRank(op, 'x', x.shape, 4, { x: x.shape, w: w.shape });
  const g = convGeometry(x.shape[1], x.shape[2], w.shape[0], opts?.stride, opts?.padding);
  const shape = [x.shape[0], g.outH, g.outW, w.shape[w.shape.length - 1]];
  return shape.every((d) => Number.isInteger(d) && d > 0) ? shape : [...x.shape];
}

function conv2dPage(e: Engine, x: Tensor, w: Tensor, opts: ConvOptions): Tensor {
  const op = 'conv2d';
  const shapes = { x: x.shape, w: w.shape };
  checkRank(op, 'x', x.shape, 4, shapes);
  checkRank(op, 'w', w.shape, 4, shapes);
  const [N, H, W, Cin] = x.shape;
  const k = checkFilter(op, opts, w.shape, Cin, 'x', shapes);
  const Cout = w.shape[3];
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  const ep = resolveEpilogue(e, op, opts.epilogue, Cout);
  const y = e.alloc([N, g.outH, g.outW, Cout], opts.dtype ?? x.dtype);
  const cfg = { k, stride: opts.stride, run: RUN, ...vecConfig(Cout), epilogue: ep.cfg };
  run(e, conv2dKernel, cfg, convShapes(N, H, W, Cin, g, Cout), { x, w, scale: ep.scale, shift: ep.shift, y });
  return y;
}

/**
 * dx of conv2d: dy [N,outH,outW,Cout], w [k,k,Cin,Cout] → [N,H,W,Cin] (= xShape).
 * Ignores opts.epilogue: pass dy already multiplied by the epilogue's backward (ReLU6 mask, scale).
 */
export function conv2dBackwardInput(e: Engine, dy: Tensor, w: Tensor, xShape: readonly number[], opts: ConvOptions): Tensor {
  return paged(e, 'conv2dBackwardInput', [dy], [{ batch: xShape }], ([dyp], pg) => [conv2dBackwardInputPage(e, dyp, w, [pg.count, ...xShape.slice(1)], opts)])[0];
}

function conv2dBackwardInputPage(e: Engine, dy: Tensor, w: Tensor, xShape: readonly number[], opts: ConvOptions): Tensor {
  const op = 'conv2dBackwardInput';
  const shapes = { dy: dy.shape, w: w.shape, xShape };
  checkRank(op, 'dy', dy.shape, 4, shapes);
  checkRank(op, 'w', w.shape, 4, shapes);
  checkRank(op, 'xShape', xShape, 4, shapes);
  const [N, H, W, Cin] = xShape;
  const k = checkFilter(op, opts, w.shape, Cin, 'xShape', shapes);
  const Cout = w.shape[3];
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  checkDyShape(op, dy.shape, N, g, Cout, 'filter', shapes);
  const S = opts.stride;
  const dx = e.alloc([N, H, W, Cin]);
  const cfg = { k, stride: S, run: RUN - (RUN % S), ...vecConfig(Cout) };
  run(e, conv2dBackwardInputKernel, cfg, convShapes(N, H, W, Cin, g, Cout), { dy, w, dx });
  return dx;
}

/**
 * dw of conv2d: x [N,H,W,Cin], dy [N,outH,outW,Cout] → [k,k,Cin,Cout] with k = opts.kernelSize ?? 3.
 * Ignores opts.epilogue: pass dy already multiplied by the epilogue's backward (ReLU6 mask, scale).
 */
export function conv2dBackwardFilter(e: Engine, x: Tensor, dy: Tensor, opts: ConvOptions): Tensor {
  return paged(e, 'conv2dBackwardFilter', [x, dy], ['sum'], ([xp, dyp]) => [conv2dBackwardFilterPage(e, xp, dyp, opts)])[0];
}

function conv2dBackwardFilterPage(e: Engine, x: Tensor, dy: Tensor, opts: ConvOptions): Tensor {
  const op = 'conv2dBackwardFilter';
  const shapes = { x: x.shape, dy: dy.shape };
  checkRank(op, 'x', x.shape, 4, shapes);
  checkRank(op, 'dy', dy.shape, 4, shapes);
  const k = opts?.kernelSize ?? 3;
  checkConvOptions(op, opts, k, shapes);
  const [N, H, W, Cin] = x.shape;
  const Cout = dy.shape[3];
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  checkDyShape(op, dy.shape, N, g, Cout, `kernel size ${k}`, shapes);
  const cfg = { k, stride: opts.stride, run: FILTER_RUN, ...vecConfig(Cout) };
  const s = convShapes(N, H, W, Cin, g, Cout);
  const P = conv2dFilterDispatch(cfg, s).parts;
  return withPartials(
    e,
    P,
    [k, k, Cin, Cout],
    (partial) => run(e, conv2dBackwardFilterKernel, cfg, s, { x, dy, partial }),
    (partial, out) => reducePartials(e, partial, out, P),
  );
}

/** out = sum over the leading axis of partial [P, ...out.shape]. */
export function reducePartials(e: Engine, partial: Tensor, out: Tensor, parts: number): void {
  run(e, convFilterReduce, vecConfig(out.size), { size: out.size, parts }, { partial, out });
}
