// Full 2D convolution, gradient w.r.t. the input: dx[n,ih,iw,ci] = sum over taps (kh,kw) and output
// channels co of dy[n,oh,ow,co] * w[kh,kw,ci,co], where oh*s - padTop + kh = ih (same for W).
// A gather (no atomics): each invocation computes a run of `run` input columns for one input channel,
// reducing over co in vec4s (dot products) when cout % 4 == 0. Runs are aligned to the stride in the
// shifted coordinate q = iw + offQ (offQ = padLeft mod stride) so which taps hit which output column is
// known at compile time (see depthwise-conv2d.backward-input.ts). Any epilogue's backward must be
// applied to dy by the caller first.
import { defineKernel } from '../define-kernel.js';
import { vecCount } from '../wgsl.js';
import {
  CONV_WG,
  type ConvTileConfig,
  backwardInputMain,
  backwardInputRow,
  backwardRow,
  convTileKey,
  convVecType,
  convZero,
  tapBlock,
  tapsByOutputOffset,
  validateConvTile,
  convBackwardInputDispatch,
  type ConvShapes,
  CONV_BACKWARD_INPUT_UNIFORMS,
} from './conv-common.js';

export const conv2dBackwardInput = defineKernel({
  name: 'conv2d.backward-input',
  uniforms: { ...CONV_BACKWARD_INPUT_UNIFORMS, cin: 'u32', cov: 'u32' },
  bindings: {
    dy: { access: 'read', type: convVecType },
    w: { access: 'read', type: convVecType },
    dx: 'read_write',
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  /** One invocation per input channel (scalar dx), reading vec4 groups of dy's output channels. */
  dispatch: (cfg: ConvTileConfig, s: ConvShapes) => {
    const d = convBackwardInputDispatch(cfg, s, s.cin);
    return { grid: d.grid, uniforms: { ...d.uniforms, cin: s.cin, cov: vecCount(cfg, s.cout) } };
  },
  key: (cfg: ConvTileConfig) => convTileKey(cfg),
  body: (cfg: ConvTileConfig) => {
    validateConvTile(cfg);
    if (cfg.run % cfg.stride !== 0) throw new Error('conv2d.backward-input: run must be a multiple of the stride');
    const K = cfg.k;
    const Z = convZero(cfg);
    const offs = tapsByOutputOffset(cfg);
    const name = (d: number) => (d < 0 ? `m${-d}` : `p${d}`);
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const { cond, oh } = backwardRow(cfg, kh);
      const cols = offs.map(
        ({ d }) => `    let ou${name(d)} = u32(qs + (${d})); let ok${name(d)} = ou${name(d)} < u.OW; let px${name(d)} = (rb + min(ou${name(d)}, u.OW - 1u)) * u.cov;`,
      );
      const ws = Array.from({ length: K }, (_, kw) => `      let w${kw} = w[(${kh * K + kw}u * u.cin + ci) * u.cov + co];`);
      const fmas = offs.map(({ d, pairs }) =>
        tapBlock('      ', `let g = select(${Z}, dy[px${name(d)} + co], ok${name(d)});`, pairs, ({ r, kw }) => [`acc${r}`, 'g', `w${kw}`]),
      );
      rows.push(
        backwardInputRow(
          cond,
          oh,
          `${cols.join('\n')}
    for (var co = 0u; co < u.cov; co++) {
${ws.join('\n')}
${fmas.join('\n')}
    }`,
        ),
      );
    }
    const fin = (r: number) => (cfg.vec4 ? `dot(acc${r}, vec4<f32>(1.0))` : `acc${r}`);
    return `\n${backwardInputMain(cfg, 'ci', 'cin', rows, (r) => `dx[(ib + iw) * u.cin + ci] = ${fin(r)};`)}`;
  },
});
