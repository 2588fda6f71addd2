// Global average / max pooling [N, H, W, C] → [N, C] (Keras GlobalAveragePooling2D /
// GlobalMaxPooling2D, pooling='avg' / 'max') and their backwards. Large H*W with few channels is split
// into parts reduced by a second dispatch of the same kernel (see kernels/elementwise/global-pool.ts).
import {
  globalPool,
  globalAvgPoolBackward as gapBackwardKernel,
  globalMaxPoolBackward as gmpBackwardKernel,
  splitPlan,
  vecConfig,
  vecCount,
} from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError, assertShape } from '../../gpu/errors.js';
import { paged } from '../paging.js';
import { run } from '../run.js';

/** Fewest spatial rows worth a part of their own (below that one pass is cheaper than two). */
const POOL_MIN_ROWS_PER_PART = 64;

function pool(e: Engine, op: string, x: Tensor, mode: 'avg' | 'max'): Tensor {
  assertShape(op, 'x', x.shape, 4);
  return paged(e, op, [x], [{ batch: [x.shape[0], x.shape[3]], dtype: x.dtype }], ([xp]) => [poolPage(e, xp, mode)])[0];
}

function poolPage(e: Engine, x: Tensor, mode: 'avg' | 'max'): Tensor {
  const [batch, h, w, channels] = x.shape;
  const hw = h * w;
  const cfg = { ...vecConfig(channels), mode };
  const { parts, rowsPerPart } = splitPlan(hw, batch * vecCount(cfg, channels), POOL_MIN_ROWS_PER_PART);
  const y = e.alloc([batch, channels], x.dtype);
  // the parts' partial results stay f32 (a sum of up to H*W/parts values)
  const first = parts === 1 ? y : e.alloc([batch, parts, channels]);
  const scale = mode === 'avg' ? 1 / hw : 1;
  run(e, globalPool, cfg, { batch, hw, channels, parts, rowsPerPart, scale }, { x, y: first });
  if (parts > 1) {
    run(e, globalPool, cfg, { batch, hw: parts, channels, parts: 1, rowsPerPart: parts, scale: 1 }, { x: first, y });
    first.dispose();
  }
  return y;
}

/** Mean over H and W: [N, H, W, C] → [N, C]. */
export function globalAvgPool(e: Engine, x: Tensor): Tensor {
  return pool(e, 'globalAvgPool', x, 'avg');
}

/** dx[n, h, w, c] = dy[n, c] / (H·W), for an input of shape xShape = [N, H, W, C]. */
export function globalAvgPoolBackward(e: Engine, dy: Tensor, xShape: readonly number[]): Tensor {
  const op = 'globalAvgPoolBackward';
  assertShape(op, 'xShape', xShape, 4);
  const [batch, h, w, channels] = xShape;
  if (dy.size !== batch * channels || dy.shape[dy.shape.length - 1] !== channels) {
    throw new ShapeError(op, 'dy must have shape [N, C] of the input', { dy: dy.shape, xShape });
  }
  const dy2 = dy.shape.length === 2 ? dy : dy.reshape([batch, channels]);
  return paged(e, op, [dy2], [{ batch: xShape }], ([dyp]) => [gapBackwardPage(e, dyp, [dyp.shape[0], h, w, channels])])[0];
}

function gapBackwardPage(e: Engine, dy: Tensor, xShape: readonly number[]): Tensor {
  const [batch, h, w, channels] = xShape;
  const dx = e.alloc(xShape);
  run(e, gapBackwardKernel, vecConfig(channels), { batch, hw: h * w, channels }, { dy, dx });
  return dx;
}

/** Max over H and W: [N, H, W, C] → [N, C]. */
export function globalMaxPool(e: Engine, x: Tensor): Tensor {
  return pool(e, 'globalMaxPool', x, 'max');
}

/** Routes dy[n, c] to the maxima of x[n, :, :, c]; ties share it equally (TF reduce_max gradient). */
export function globalMaxPoolBackward(e: Engine, x: Tensor, dy: Tensor): Tensor {
  const op = 'globalMaxPoolBackward';
  assertShape(op, 'x', x.shape, 4);
  const [batch, h, w, channels] = x.shape;
  if (dy.size !== batch * channels || dy.shape[dy.shape.length - 1] !== channels) {
    throw new ShapeError(op, 'dy must have shape [N, C] of x', { dy: dy.shape, x: x.shape });
  }
  const dy2 = dy.shape.length === 2 ? dy : dy.reshape([batch, channels]);
  return paged(e, op, [x, dy2], [{ batch: x.shape }], ([xp, dyp]) => [gmpBackwardPage(e, xp, dyp)])[0];
}

function gmpBackwardPage(e: Engine, x: Tensor, dy: Tensor): Tensor {
  const [batch, h, w, channels] = x.shape;
  const dx = e.alloc(x.shape);
  run(e, gmpBackwardKernel, vecConfig(channels), { batch, hw: h * w, channels }, { x, dy, dx });
  return dx;
}
