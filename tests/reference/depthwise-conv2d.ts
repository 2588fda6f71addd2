// f64 references for the depthwise 2D convolution (NHWC input, filter [k,k,C]) and its gradients,
// plain loops (forward gather, backward scatter). Padding as in ./conv2d.ts.
import { type ConvRefOpts, type EpilogueRef, applyEpilogueRef, axisRef } from './conv2d.js';

interface Geom {
  N: number;
  H: number;
  W: number;
  C: number;
  k: number;
  OH: number;
  OW: number;
  pt: number;
  pl: number;
  s: number;
}

function geom(xShape: readonly number[], k: number, o: ConvRefOpts): Geom {
  const [N, H, W, C] = xShape;
  const h = axisRef(H, k, o.stride, o.padding);
  const w = axisRef(W, k, o.stride, o.padding);
  return { N, H, W, C, k, OH: h.out, OW: w.out, pt: h.pad, pl: w.pad, s: o.stride };
}

/** Calls f(yBase, xBase, wBase) for every (output, in-image tap); add the C channels at those bases. */
function forEachTap(g: Geom, f: (yb: number, xb: number, wb: number) => void): void {
  for (let n = 0; n < g.N; n++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++)
        for (let kh = 0; kh < g.k; kh++) {
          const ih = oh * g.s - g.pt + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (let kw = 0; kw < g.k; kw++) {
            const iw = ow * g.s - g.pl + kw;
            if (iw < 0 || iw >= g.W) continue;
            f(((n * g.OH + oh) * g.OW + ow) * g.C, ((n * g.H + ih) * g.W + iw) * g.C, (kh * g.k + kw) * g.C);
          }
        }
}

/** y [N,OH,OW,C] = epilogue(depthwise(x, w)). */
export function depthwiseConv2dRef(x: Float64Array, xShape: readonly number[], w: Float64Array, k: number, o: ConvRefOpts, ep?: EpilogueRef): { y: Float64Array; shape: number[] } {
  const g = geom(xShape, k, o);
  const y = new Float64Array(g.N * g.OH * g.OW * g.C);
  forEachTap(g, (yb, xb, wb) => {
    for (let c = 0; c < g.C; c++) y[yb + c] += x[xb + c] * w[wb + c];
  });
  return { y: applyEpilogueRef(y, g.C, ep), shape: [g.N, g.OH, g.OW, g.C] };
}

/** dx [N,H,W,C] (no epilogue) for upstream dy [N,OH,OW,C]. */
export function depthwiseConv2dBackwardInputRef(dy: Float64Array, w: Float64Array, k: number, xShape: readonly number[], o: ConvRefOpts): Float64Array {
  const g = geom(xShape, k, o);
  const dx = new Float64Array(g.N * g.H * g.W * g.C);
  forEachTap(g, (yb, xb, wb) => {
    for (let c = 0; c < g.C; c++) dx[xb + c] += dy[yb + c] * w[wb + c];
  });
  return dx;
}

/** dw [k,k,C] (no epilogue) for upstream dy [N,OH,OW,C]. */
export function depthwiseConv2dBackwardFilterRef(x: Float64Array, xShape: readonly number[], dy: Float64Array, k: number, o: ConvRefOpts): Float64Array {
  const g = geom(xShape, k, o);
  const dw = new Float64Array(k * k * g.C);
  forEachTap(g, (yb, xb, wb) => {
    for (let c = 0; c < g.C; c++) dw[wb + c] += x[xb + c] * dy[yb + c];
  });
  return dw;
}
