// Full 2D convolution (MobileNetV2's stem): forward with fused epilogue, gradient w.r.t. the input and
// w.r.t. the filter. NHWC activations, HWIO filters [k,k,cin,cout]. See padding.ts for the modes.
import {
  conv2d as conv2dKernel,
  conv2dBackwardInput as conv2dBackwardInputKernel,
  conv2dBackwardFilter as conv2dBackwardFilterKernel,
  convFilterReduce,
  grid1d,
  ceilDiv,
  CONV_WG,
} from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import { resolveEpilogue } from '../epilogue.js';
import { paged } from '../paging.js';
import { type ConvOptions, checkConvOptions, checkDyShape, convChannels, checkRank, convGeometry, filterGradPlan, withPartials } from './conv-common.js';

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
  return paged(e, 'conv2d', [x], [{ batch: yShape }], ([xp]) => [conv2dPage(e, xp, w, opts)])[0];
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
  const [k, kw, wCin, Cout] = w.shape;
  if (k !== kw) throw new ShapeError(op, 'filter must be square [k,k,cin,cout]', shapes);
  if (wCin !== Cin) throw new ShapeError(op, 'filter input channels (w[2]) must equal x channels (x[3])', shapes);
  checkConvOptions(op, opts, k, shapes);
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  const ep = resolveEpilogue(e, op, opts.epilogue, Cout);
  const { vec4, cv: cov } = convChannels(Cout);
  const runs = ceilDiv(g.outW, RUN);
  const total = N * g.outH * runs * cov;
  const y = e.alloc([N, g.outH, g.outW, Cout]);
  e.dispatch(
    conv2dKernel,
    { k, stride: opts.stride, run: RUN, vec4, epilogue: ep.cfg },
    { x, w, scale: ep.scale, shift: ep.shift, y },
    { total, cin: Cin, cov, H, W, OH: g.outH, OW: g.outW, runs, padTop: g.padTop, padLeft: g.padLeft },
    grid1d(ceilDiv(total, CONV_WG)),
  );
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
  const [k, kw, wCin, Cout] = w.shape;
  if (k !== kw) throw new ShapeError(op, 'filter must be square [k,k,cin,cout]', shapes);
  if (wCin !== Cin) throw new ShapeError(op, 'filter input channels (w[2]) must equal x channels (xShape[3])', shapes);
  checkConvOptions(op, opts, k, shapes);
  const g = convGeometry(H, W, k, opts.stride, opts.padding);
  checkDyShape(op, dy.shape, N, g, Cout, 'filter', shapes);
  const S = opts.stride;
  const run = RUN - (RUN % S);
  const offQ = g.padLeft % S;
  const { vec4, cv: cov } = convChannels(Cout);
  const runs = ceilDiv(W + offQ, run);
  const total = N * H * runs * Cin;
  const dx = e.alloc([N, H, W, Cin]);
  e.dispatch(
    conv2dBackwardInputKernel,
    { k, stride: S, run, vec4 },
    { dy, w, dx },
    { total, cin: Cin, cov, H, W, OH: g.outH, OW: g.outW, runs, padTop: g.padTop, offQ, pq: (g.padLeft - offQ) / S },
    grid1d(ceilDiv(total, CONV_WG)),
  );
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
  const { vec4, cv: cov } = convChannels(Cout);
  const runs = ceilDiv(g.outW, FILTER_RUN);
  const items = N * g.outH * runs;
  const { parts: P, rowsPerPart: per } = filterGradPlan(items, Cin * cov);
  const total = P * Cin * cov;
  const cfg = { k, stride: opts.stride, run: FILTER_RUN, vec4 };
  const u = { total, cin: Cin, cov, H, W, OH: g.outH, OW: g.outW, runs, padTop: g.padTop, padLeft: g.padLeft, items, per };
  return withPartials(
    e,
    P,
    [k, k, Cin, Cout],
    (partial) => e.dispatch(conv2dBackwardFilterKernel, cfg, { x, dy, partial }, u, grid1d(ceilDiv(total, CONV_WG))),
    (partial, out) => reducePartials(e, partial, out, P),
  );
}

/** out = sum over the leading axis of partial [P, ...out.shape]. */
export function reducePartials(e: Engine, partial: Tensor, out: Tensor, parts: number): void {
  const vec4 = out.size % 4 === 0;
  const n = vec4 ? out.size / 4 : out.size;
  e.dispatch(convFilterReduce, { vec4 }, { partial, out }, { n, parts }, grid1d(ceilDiv(n, CONV_WG)));
}
