// Depthwise 2D convolution, gradient w.r.t. the input, as a gather (no atomics):
// dx[n,ih,iw,c] = sum over taps (kh,kw) of dy[n,oh,ow,c] * w[kh,kw,c], over the (oh,ow) with
// oh*s - padTop + kh = ih and ow*s - padLeft + kw = iw. For stride 1 this is a depthwise conv of dy
// with the flipped filter; for stride s only taps with (ih + padTop - kh) divisible by s contribute.
//
// Each invocation computes a vec4 of channels (scalar when C % 4 != 0) x a run of `run` input columns.
// Runs are aligned in the shifted coordinate q = iw + offQ, offQ = padLeft mod s, with run a multiple
// of s: then iw + padLeft = q + s*pq (pq = (padLeft - offQ)/s) and input r of a run starting at q0
// receives output column q0/s + pq + d through tap kw exactly when r - kw = d*s, a compile-time
// relation. Rows use the runtime divisibility test. Any epilogue's backward must be applied to dy by
// the caller first.
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

export const depthwiseConv2dBackwardInput = defineKernel({
  name: 'depthwise-conv2d.backward-input',
  uniforms: { ...CONV_BACKWARD_INPUT_UNIFORMS, cv: 'u32' },
  bindings: {
    dy: { access: 'read', type: convVecType },
    w: { access: 'read', type: convVecType },
    dx: { access: 'read_write', type: convVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  dispatch: (cfg: ConvTileConfig, s: ConvShapes) => {
    const cv = vecCount(cfg, s.cin);
    const d = convBackwardInputDispatch(cfg, s, cv);
    return { grid: d.grid, uniforms: { ...d.uniforms, cv } };
  },
  key: (cfg: ConvTileConfig) => convTileKey(cfg),
  body: (cfg: ConvTileConfig) => {
    validateConvTile(cfg);
    if (cfg.run % cfg.stride !== 0) throw new Error('depthwise-conv2d.backward-input: run must be a multiple of the stride');
    const K = cfg.k;
    const Z = convZero(cfg);
    const offs = tapsByOutputOffset(cfg);
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const { cond, oh } = backwardRow(cfg, kh);
      const ws = Array.from({ length: K }, (_, kw) => `    let w${kw} = w[${kh * K + kw}u * u.cv + c];`);
      const fmas = offs.map(({ d, pairs }) =>
        tapBlock(
          '    ',
          `let ou = u32(qs + (${d})); let g = select(${Z}, dy[(rb + min(ou, u.OW - 1u)) * u.cv + c], ou < u.OW);`,
          pairs,
          ({ r, kw }) => [`acc${r}`, 'g', `w${kw}`],
        ),
      );
      rows.push(backwardInputRow(cond, oh, `${ws.join('\n')}\n${fmas.join('\n')}`));
    }
    return `\n${backwardInputMain(cfg, 'c', 'cv', rows, (r) => `dx[(ib + iw) * u.cv + c] = acc${r};`)}`;
  },
});
