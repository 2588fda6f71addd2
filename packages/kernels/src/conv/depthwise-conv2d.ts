// Depthwise 2D convolution forward, NHWC input, filter [k,k,C], fused epilogue:
// y[n,oh,ow,c] = epilogue(sum over (kh,kw) of x[n, oh*s - padTop + kh, ow*s - padLeft + kw, c] * w[kh,kw,c]).
// Best form on lavapipe (LAVAPIPE.md): each invocation computes a vec4 of channels x a run of `run`
// outputs along W, loading each input column of the window once and each filter tap once. Scalar
// fallback (one channel) when C % 4 != 0. Taps outside the input read 0.
import { defineKernel } from '../define-kernel.js';
import { epilogueKey } from '../epilogue.js';
import { CONV_WG, convTileKey, convZero, forwardMain, forwardRow, tapBlock, tapsByInputColumn, validateConvTile, convForwardDispatch, type ConvShapes, CONV_FORWARD_UNIFORMS, DEPTHWISE_FORWARD_BINDINGS } from './conv-common.js';
import type { Conv2dConfig } from './conv2d.js';

export type DepthwiseConv2dConfig = Conv2dConfig;

export const depthwiseConv2d = defineKernel({
  name: 'depthwise-conv2d',
  uniforms: { ...CONV_FORWARD_UNIFORMS, cv: 'u32' /* channels in units of the bound type */ },
  bindings: DEPTHWISE_FORWARD_BINDINGS,
  workgroupSize: () => [CONV_WG, 1, 1],
  dispatch: (cfg: DepthwiseConv2dConfig, s: ConvShapes) => {
    const d = convForwardDispatch(cfg, s);
    return { grid: d.grid, uniforms: { ...d.uniforms, cv: d.c } };
  },
  key: (cfg: DepthwiseConv2dConfig) => `${convTileKey(cfg)}|${epilogueKey(cfg.epilogue)}`,
  body: (cfg: DepthwiseConv2dConfig) => {
    validateConvTile(cfg);
    const K = cfg.k;
    const Z = convZero(cfg);
    const taps = tapsByInputColumn(cfg);
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const ws = Array.from({ length: K }, (_, kw) => `    let w${kw} = w[${kh * K + kw}u * u.cv + c];`);
      const fmas = taps.map((pairs, j) =>
        tapBlock(
          '    ',
          `let iu = u32(iw0 + ${j}); let xv = select(${Z}, x[(rb + min(iu, u.W - 1u)) * u.cv + c], iu < u.W);`,
          pairs,
          ({ r, kw }) => [`acc${r}`, 'xv', `w${kw}`],
        ),
      );
      rows.push(forwardRow(kh, `${ws.join('\n')}\n${fmas.join('\n')}`));
    }
    return forwardMain(cfg, 'c', 'cv', rows);
  },
});
