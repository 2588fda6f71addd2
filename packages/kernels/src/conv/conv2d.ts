// Full 2D convolution forward (MobileNetV2's stem: 3x3, Cin=3, Cout=32, stride 2), NHWC input,
// HWIO filter [k,k,cin,cout], fused epilogue. Register-blocked: each invocation computes a run of
// `run` outputs along W for one vec4 of output channels (scalar when cout % 4 != 0), so each filter
// load serves `run` outputs and each input load serves up to k taps x 4 channels. Taps outside the
// input read 0 (padding is given as padTop/padLeft uniforms). The kernel size and stride are
// compile-time constants: the tap loops are unrolled by the generator.
import { defineKernel } from '../define-kernel.js';
import { type EpilogueConfig, epilogueKey } from '../epilogue.js';
import {
  CONV_WG,
  type ConvTileConfig,
  convTileKey,
  convVecType,
  forwardMain,
  forwardRow,
  tapBlock,
  tapsByInputColumn,
  validateConvTile,
  convForwardDispatch,
  type ConvShapes,
  CONV_FORWARD_UNIFORMS,
} from './conv-common.js';

// The shared conv helpers used to live here; re-exported for existing importers.
export {
  CONV_WG,
  type ConvTileConfig,
  backwardRow,
  convSpan,
  convTileKey,
  convVecType,
  convZero,
  tapsByInputColumn,
  tapsByOutputOffset,
  validateConvTile,
} from './conv-common.js';

export interface Conv2dConfig extends ConvTileConfig {
  epilogue: EpilogueConfig;
}

export const conv2d = defineKernel({
  name: 'conv2d',
  uniforms: { ...CONV_FORWARD_UNIFORMS, cin: 'u32', cov: 'u32' /* output channels in units of the bound type */ },
  bindings: {
    x: 'read',
    w: { access: 'read', type: convVecType },
    scale: 'read',
    shift: 'read',
    y: { access: 'read_write', type: convVecType },
  },
  workgroupSize: () => [CONV_WG, 1, 1],
  dispatch: (cfg: Conv2dConfig, s: ConvShapes) => {
    const d = convForwardDispatch(cfg, s);
    return { grid: d.grid, uniforms: { ...d.uniforms, cin: s.cin, cov: d.c } };
  },
  key: (cfg: Conv2dConfig) => `${convTileKey(cfg)}|${epilogueKey(cfg.epilogue)}`,
  body: (cfg: Conv2dConfig) => {
    validateConvTile(cfg);
    const K = cfg.k;
    const splat = (v: string) => (cfg.vec4 ? `vec4<f32>(${v})` : v);
    const taps = tapsByInputColumn(cfg);
    const rows: string[] = [];
    for (let kh = 0; kh < K; kh++) {
      const cols = taps.map((_, j) => `    let iu${j} = u32(iw0 + ${j}); let ok${j} = iu${j} < u.W; let px${j} = (rb + min(iu${j}, u.W - 1u)) * u.cin;`);
      const ws = Array.from({ length: K }, (_, kw) => `      let w${kw} = w[(${kh * K + kw}u * u.cin + ci) * u.cov + co];`);
      const fmas = taps.map((pairs, j) =>
        tapBlock('      ', `let xv = ${splat(`select(0.0, x[px${j} + ci], ok${j})`)};`, pairs, ({ r, kw }) => [`acc${r}`, 'xv', `w${kw}`]),
      );
      rows.push(
        forwardRow(
          kh,
          `${cols.join('\n')}
    for (var ci = 0u; ci < u.cin; ci++) {
${ws.join('\n')}
${fmas.join('\n')}
    }`,
        ),
      );
    }
    return forwardMain(cfg, 'co', 'cov', rows);
  },
});
