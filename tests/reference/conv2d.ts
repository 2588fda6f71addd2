// f64 references for the full 2D convolution (NHWC input, HWIO filter [k,k,cin,cout]) and its
// gradients, written as plain loops (forward gather, backward scatter) independent of the kernels.
// Padding: 'same' = TensorFlow (out = ceil(in/s), total = max((out-1)*s + k - in, 0), before =
// floor(total/2)); 'symmetric' = PyTorch padding k//2 (out = floor((in + 2*(k//2) - k)/s) + 1).

export type PaddingRef = 'same' | 'symmetric';
export interface ConvRefOpts {
  stride: number;
  padding: PaddingRef;
}
export interface EpilogueRef {
  scale?: ArrayLike<number>;
  shift?: ArrayLike<number>;
  relu6?: boolean;
}

/** Output size and padding-before of one spatial axis. */
export function axisRef(inp: number, k: number, s: number, padding: PaddingRef): { out: number; pad: number } {
  if (padding === 'symmetric') {
    const pad = Math.floor(k / 2);
    return { out: Math.floor((inp + 2 * pad - k) / s) + 1, pad };
  }
  const out = Math.ceil(inp / s);
  const total = Math.max((out - 1) * s + k - inp, 0);
  return { out, pad: Math.floor(total / 2) };
}

/** y[i] = relu6?(y[i] * scale[c] + shift[c]) with c = i % C (NHWC), in place. */
export function applyEpilogueRef(y: Float64Array, C: number, ep?: EpilogueRef): Float64Array {
  if (!ep) return y;
  for (let i = 0; i < y.length; i++) {
    const c = i % C;
    let v = y[i] * (ep.scale ? ep.scale[c] : 1) + (ep.shift ? ep.shift[c] : 0);
    if (ep.relu6) v = Math.min(Math.max(v, 0), 6);
    y[i] = v;
  }
  return y;
}

export interface Conv2dGeom {
  N: number;
  H: number;
  W: number;
  Cin: number;
  Cout: number;
  k: number;
  OH: number;
  OW: number;
  pt: number;
  pl: number;
  s: number;
}

export function conv2dGeomRef(xShape: readonly number[], k: number, Cout: number, o: ConvRefOpts): Conv2dGeom {
  const [N, H, W, Cin] = xShape;
  const h = axisRef(H, k, o.stride, o.padding);
  const w = axisRef(W, k, o.stride, o.padding);
  return { N, H, W, Cin, Cout, k, OH: h.out, OW: w.out, pt: h.pad, pl: w.pad, s: o.stride };
}

/** Visits every (output, tap) pair whose input position is inside the image. */
function forEachTap(g: Conv2dGeom, f: (n: number, oh: number, ow: number, kh: number, kw: number, ih: number, iw: number) => void): void {
  for (let n = 0; n < g.N; n++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++)
        for (let kh = 0; kh < g.k; kh++) {
          const ih = oh * g.s - g.pt + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (let kw = 0; kw < g.k; kw++) {
            const iw = ow * g.s - g.pl + kw;
            if (iw < 0 || iw >= g.W) continue;
            f(n, oh, ow, kh, kw, ih, iw);
          }
        }
}

/** y [N,OH,OW,Cout] = epilogue(conv(x, w)). */
export function conv2dRef(x: Float64Array, xShape: readonly number[], w: Float64Array, k: number, Cout: number, o: ConvRefOpts, ep?: EpilogueRef): { y: Float64Array; shape: number[] } {
  const g = conv2dGeomRef(xShape, k, Cout, o);
  const y = new Float64Array(g.N * g.OH * g.OW * Cout);
  forEachTap(g, (n, oh, ow, kh, kw, ih, iw) => {
    const yb = ((n * g.OH + oh) * g.OW + ow) * Cout;
    const xb = ((n * g.H + ih) * g.W + iw) * g.Cin;
    for (let ci = 0; ci < g.Cin; ci++) {
      const xv = x[xb + ci];
      const wb = ((kh * k + kw) * g.Cin + ci) * Cout;
      for (let co = 0; co < Cout; co++) y[yb + co] += xv * w[wb + co];
    }
  });
  return { y: applyEpilogueRef(y, Cout, ep), shape: [g.N, g.OH, g.OW, Cout] };
}

/** dx [N,H,W,Cin] of conv2d (no epilogue) for upstream dy [N,OH,OW,Cout]. */
export function conv2dBackwardInputRef(dy: Float64Array, w: Float64Array, k: number, Cout: number, xShape: readonly number[], o: ConvRefOpts): Float64Array {
  const g = conv2dGeomRef(xShape, k, Cout, o);
  const dx = new Float64Array(g.N * g.H * g.W * g.Cin);
  forEachTap(g, (n, oh, ow, kh, kw, ih, iw) => {
    const yb = ((n * g.OH + oh) * g.OW + ow) * Cout;
    const xb = ((n * g.H + ih) * g.W + iw) * g.Cin;
    for (let ci = 0; ci < g.Cin; ci++) {
      const wb = ((kh * k + kw) * g.Cin + ci) * Cout;
      let s = 0;
      for (let co = 0; co < Cout; co++) s += dy[yb + co] * w[wb + co];
      dx[xb + ci] += s;
    }
  });
  return dx;
}

/** dw [k,k,Cin,Cout] of conv2d (no epilogue) for upstream dy [N,OH,OW,Cout]. */
export function conv2dBackwardFilterRef(x: Float64Array, xShape: readonly number[], dy: Float64Array, k: number, Cout: number, o: ConvRefOpts): Float64Array {
  const g = conv2dGeomRef(xShape, k, Cout, o);
  const dw = new Float64Array(k * k * g.Cin * Cout);
  forEachTap(g, (n, oh, ow, kh, kw, ih, iw) => {
    const yb = ((n * g.OH + oh) * g.OW + ow) * Cout;
    const xb = ((n * g.H + ih) * g.W + iw) * g.Cin;
    for (let ci = 0; ci < g.Cin; ci++) {
      const wb = ((kh * k + kw) * g.Cin + ci) * Cout;
      for (let co = 0; co < Cout; co++) dw[wb + co] += x[xb + ci] * dy[yb + co];
    }
  });
  return dw;
}
