// f64 references for matmul (with transposed operands), pointwise convolution and the dense layer,
// and their gradients, written as plain loops independent of the kernels.

export interface MatmulRefOpts {
  transA?: boolean;
  transB?: boolean;
}

/** C[M,N] = op(A)·op(B); A stored [M,K] or [K,M] (transA), B stored [K,N] or [N,K] (transB). */
export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number, o: MatmulRefOpts = {}): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = o.transA ? a[k * M + m] : a[m * K + k];
        const bv = o.transB ? b[n * K + k] : b[k * N + n];
        s += av * bv;
      }
      c[m * N + n] = s;
    }
  }
  return c;
}

/** Row-major transpose of an [R, C] matrix. */
export function transposeRef(x: ArrayLike<number>, R: number, C: number): Float64Array {
  const t = new Float64Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) t[c * R + r] = x[r * C + c];
  return t;
}

/** Gradients of C = A·B (A [M,K], B [K,N]): dA = dC·Bᵀ, dB = Aᵀ·dC. */
export function matmulBackwardRef(a: ArrayLike<number>, b: ArrayLike<number>, dc: ArrayLike<number>, M: number, K: number, N: number) {
  return { a: matmulRef(dc, b, M, N, K, { transB: true }), b: matmulRef(a, dc, K, M, N, { transA: true }) };
}

export interface EpilogueRefOpts {
  scale?: ArrayLike<number>;
  shift?: ArrayLike<number>;
  relu6?: boolean;
  relu?: boolean;
}

/** y = act(y * scale[c] + shift[c]) with c = column (i % C), in place. */
export function epilogueRef(y: Float64Array, C: number, ep: EpilogueRefOpts = {}): Float64Array {
  for (let i = 0; i < y.length; i++) {
    const c = i % C;
    let v = y[i] * (ep.scale ? ep.scale[c] : 1) + (ep.shift ? ep.shift[c] : 0);
    if (ep.relu6) v = Math.min(Math.max(v, 0), 6);
    if (ep.relu) v = Math.max(v, 0);
    y[i] = v;
  }
  return y;
}

// ---- pointwise (1x1) convolution, NHWC x [P = N*H*W pixels, Cin], filter [Cin, Cout] -------------

export function pointwiseConv2dRef(x: ArrayLike<number>, w: ArrayLike<number>, P: number, Cin: number, Cout: number, ep?: EpilogueRefOpts): Float64Array {
  const y = new Float64Array(P * Cout);
  for (let p = 0; p < P; p++)
    for (let co = 0; co < Cout; co++) {
      let s = 0;
      for (let ci = 0; ci < Cin; ci++) s += x[p * Cin + ci] * w[ci * Cout + co];
      y[p * Cout + co] = s;
    }
  return ep ? epilogueRef(y, Cout, ep) : y;
}

export function pointwiseConv2dBackwardInputRef(dy: ArrayLike<number>, w: ArrayLike<number>, P: number, Cin: number, Cout: number): Float64Array {
  const dx = new Float64Array(P * Cin);
  for (let p = 0; p < P; p++)
    for (let ci = 0; ci < Cin; ci++) {
      let s = 0;
      for (let co = 0; co < Cout; co++) s += dy[p * Cout + co] * w[ci * Cout + co];
      dx[p * Cin + ci] = s;
    }
  return dx;
}

export function pointwiseConv2dBackwardFilterRef(x: ArrayLike<number>, dy: ArrayLike<number>, P: number, Cin: number, Cout: number): Float64Array {
  const dw = new Float64Array(Cin * Cout);
  for (let p = 0; p < P; p++)
    for (let ci = 0; ci < Cin; ci++) {
      const xv = x[p * Cin + ci];
      for (let co = 0; co < Cout; co++) dw[ci * Cout + co] += xv * dy[p * Cout + co];
    }
  return dw;
}

// ---- dense: y = act(x·W + b), x [B, In], W [In, Out], b [Out] -----------------------------------

export function denseRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, B: number, In: number, Out: number, relu = false): Float64Array {
  return epilogueRef(matmulRef(x, w, B, In, Out), Out, { shift: b, relu });
}

/** Gradients from the forward output y (ReLU mask: y > 0). */
export function denseBackwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  y: ArrayLike<number>,
  dy: ArrayLike<number>,
  B: number,
  In: number,
  Out: number,
  relu = false,
): { x: Float64Array; w: Float64Array; b: Float64Array } {
  const dz = Float64Array.from(dy, (g, i) => (relu && !(y[i] > 0) ? 0 : g));
  const db = new Float64Array(Out);
  for (let r = 0; r < B; r++) for (let o = 0; o < Out; o++) db[o] += dz[r * Out + o];
  return { x: matmulRef(dz, w, B, Out, In, { transB: true }), w: matmulRef(x, dz, In, B, Out, { transA: true }), b: db };
}
