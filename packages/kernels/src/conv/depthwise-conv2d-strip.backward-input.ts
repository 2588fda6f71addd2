// Depthwise 2D convolution, gradient w.r.t. the input, "strip" form (see depthwise-conv2d-strip.ts
// for why): a gather with no atomics, streaming down a strip of rows. Same result as
// depthwise-conv2d.backward-input.ts (the "run" form).
//
// Stride 1: dx is the depthwise convolution of dy with the filter rotated by 180 degrees and padding
// k-1-pad, so the forward strip generator runs with `flip` (dy as input, dx as output).
//
// Stride s > 1: write the input coordinates by their stride phase, ih = s*m - padTop + a,
// iw = s*q - padLeft + b with a, b in [0, s). Tap kh reaches ih from dy row (ih + padTop - kh)/s
// exactly when kh = a + s*dh, and that row is m - dh; the same along W. So
//   dx[n, s*m - padTop + a, s*q - padLeft + b, c] = sum over dh, dw of
//       dy[n, m - dh, q - dw, c] * w[a + s*dh, b + s*dw, c]      (a + s*dh < k, b + s*dw < k)
// with every tap index a compile-time constant. An invocation owns a vec4 of channels (scalar when
// C % 4 != 0) x `run` dy columns q (s*run dx columns) x a strip of row phases m. It streams dy rows:
// row m - e feeds the accumulators of row phases m' = m - e + dh (set B<m' - m>); once dy row m is
// consumed, phase m is complete (its s dx rows are stored) and the sets rotate. D = floor((k-1)/s)
// rows and columns of halo. dy outside [0,OH) x [0,OW) reads 0; dx outside the image is not written.
// Any epilogue's backward must be applied to dy by the caller first.
import { defineKernel } from '../define-kernel.js';
import { ceilDiv, grid1d, vecCount, wgsl } from '../wgsl.js';
import { CONV_WG, type ConvShapes, convVecType, convZero } from './conv-common.js';
import { type DepthwiseStripConfig, STRIP_MAIN_HEAD, depthwiseStripForwardDispatch, depthwiseStripKey, stripForwardBody, stripPlan, streamDyRows, validateStrip } from './depthwise-conv2d-strip.js';

export function depthwiseStripBackwardInputDispatch(cfg: DepthwiseStripConfig, s: ConvShapes) {
  const S = cfg.stride;
  if (S === 1) {
    // dx = forward(dy, rotated w): input dy [OH, OW], output dx [H, W], padding k-1-pad.
    const f = depthwiseStripForwardDispatch(cfg, { ...s, H: s.OH, W: s.OW, OH: s.H, OW: s.W, padTop: cfg.k - 1 - s.padTop, padLeft: cfg.k - 1 - s.padLeft });
    return { grid: f.grid, uniforms: { ...f.uniforms, mMin: 0, mCount: 0, qMin: 0 } };
  }
  const cv = vecCount(cfg, s.cin);
  const mMin = Math.floor(s.padTop / S);
  const mCount = Math.floor((s.H - 1 + s.padTop) / S) - mMin + 1;
  const qMin = Math.floor(s.padLeft / S);
  const qCount = Math.floor((s.W - 1 + s.padLeft) / S) - qMin + 1;
  const runs = ceilDiv(qCount, cfg.run);
  const { strips, rowsPerStrip } = stripPlan(mCount, s.N * runs * cv);
  const total = s.N * strips * runs * cv;
  return {
    grid: grid1d(ceilDiv(total, CONV_WG)),
    uniforms: { total, H: s.H, W: s.W, OH: s.OH, OW: s.OW, runs, strips, rowsPerStrip, padTop: s.padTop, padLeft: s.padLeft, cv, mMin, mCount, qMin },
  };
}

function stridedBody(cfg: DepthwiseStripConfig): string {
  const { k: K, stride: S, run: Q } = cfg;
  const Z = convZero(cfg);
  const T = convVecType(cfg);
  const D = Math.floor((K - 1) / S);
  const acc = (t: number, a: number, x: number) => `b${t}_${a}_${x}`; // x = qq*S + b
  // dy row m - e: feeds set t = dh - e for dh in [e, D] (filter row a + S*dh)
  const consume = (e: number) => {
    const lines: string[] = [];
    for (let jj = 0; jj < Q + D; jj++) {
      const fmas: string[] = [];
      for (let t = 0; t + e <= D; t++) {
        const dh = t + e;
        for (let a = 0; a < S && a + S * dh < K; a++) {
          for (let qq = 0; qq < Q; qq++) {
            const dw = qq + D - jj;
            if (dw < 0 || dw > D) continue;
            for (let b = 0; b < S && b + S * dw < K; b++) {
              fmas.push(`${acc(t, a, qq * S + b)} = fma(v, w${a + S * dh}_${b + S * dw}, ${acc(t, a, qq * S + b)});`);
            }
          }
        }
      }
      if (fmas.length) lines.push(`{ let v = select(${Z}, dy[u32(max(base + ${jj} * i32(u.cv), 0))], rok && dok${jj}); ${fmas.join(' ')} }`);
    }
    return `{
      let om = i32(m) - ${e};
      let rok = u32(om) < u.OH;
      let base = (i32(n * u.OH) + om) * i32(u.OW * u.cv) + (i32(q0) - ${D}) * i32(u.cv) + i32(c);
      ${lines.join('\n      ')}
    }`;
  };
  const decl = Array.from({ length: D + 1 }, (_, t) =>
    Array.from({ length: S }, (_, a) => Array.from({ length: Q * S }, (_, x) => `var ${acc(t, a, x)}: ${T};`).join(' ')).join(' '),
  ).join('\n  ');
  const stores = Array.from({ length: S }, (_, a) => `{
      let ih = i32(m * ${S}u) - u.padTop + ${a};
      if (u32(ih) < u.H) {
        let ib = (n * u.H + u32(ih)) * u.W;
        ${Array.from({ length: Q * S }, (_, x) => `if (jx${x} < u.W) { dx[(ib + jx${x}) * u.cv + c] = ${acc(0, a, x)}; }`).join('\n        ')}
      }
    }`);
  const rotate = Array.from({ length: D + 1 }, (_, t) =>
    Array.from({ length: S }, (_, a) => Array.from({ length: Q * S }, (_, x) => `${acc(t, a, x)} = ${t < D ? acc(t + 1, a, x) : Z};`).join(' ')).join(' '),
  ).join('\n    ');
  return wgsl`
${STRIP_MAIN_HEAD}
  let m0 = u.mMin + strip * u.rowsPerStrip;
  let m1 = min(m0 + u.rowsPerStrip, u.mMin + u.mCount);
  let q0 = u.qMin + run * ${Q}u;
  ${Array.from({ length: Q + D }, (_, jj) => `let dok${jj} = u32(i32(q0) - ${D - jj}) < u.OW;`).join('\n  ')}
  ${Array.from({ length: Q * S }, (_, x) => `let jx${x} = u32(i32(q0 * ${S}u + ${x}u) - u.padLeft);`).join('\n  ')}
  ${Array.from({ length: K * K }, (_, t) => `let w${Math.floor(t / K)}_${t % K} = w[${t}u * u.cv + c];`).join('\n  ')}
  ${decl}
  ${streamDyRows(D, consume, stores, rotate)}
}`;
}

export const depthwiseConv2dStripBackwardInput = defineKernel({
  name: 'depthwise-conv2d-strip.backward-input',
  uniforms: {
    total: 'u32',
    H: 'u32',
    W: 'u32',
    OH: 'u32',
    OW: 'u32',
    runs: 'u32',
    strips: 'u32',
    rowsPerStrip: 'u32',
    padTop: 'i32',
    padLeft: 'i32',
    cv: 'u32',
    mMin: 'u32',
    mCount: 'u32',
    qMin: 'u32',
  },
  bindings: {
    dy: { access: 'read', type: convVecType },
    w: { access: 'read', type: convVecType },
    dx: { access: 'read_write', type: convVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  dispatch: (cfg: DepthwiseStripConfig, s: ConvShapes) => depthwiseStripBackwardInputDispatch(cfg, s),
  key: (cfg: DepthwiseStripConfig) => depthwiseStripKey(cfg),
  body: (cfg: DepthwiseStripConfig) => {
    validateStrip('depthwise-conv2d-strip.backward-input', cfg);
    return cfg.stride === 1 ? stripForwardBody(cfg, true) : stridedBody(cfg);
  },
});
