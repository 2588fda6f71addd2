// Fused epilogue for conv/matmul outputs: optional per-output-channel affine (folded inference
// BatchNorm or a bias) then optional ReLU6. Fusing saves a whole element-wise pass over the
// activation, which costs as much as a small conv on software adapters (LAVAPIPE.md).
// Kernels that use it declare bindings named `scale` and `shift` (array<f32>, length = channels);
// when unused, bind any small buffer (core binds a 16-byte dummy).
import { RELU6_FNS, wgsl } from './wgsl.js';

export interface EpilogueConfig {
  /** 'none': y = acc; 'shift': y = acc + shift[c]; 'scale-shift': y = acc * scale[c] + shift[c]. */
  affine: 'none' | 'shift' | 'scale-shift';
  relu6: boolean;
}

export const NO_EPILOGUE: EpilogueConfig = { affine: 'none', relu6: false };

export const epilogueKey = (e: EpilogueConfig) => `${e.affine}${e.relu6 ? '+relu6' : ''}`;

/** WGSL: `fn epilogue(v: f32, c: u32) -> f32` and `fn epilogue4(v: vec4<f32>, c: u32) -> vec4<f32>` (c = first of 4 channels). */
export function epilogueWgsl(e: EpilogueConfig): string {
  const s = (c: string) => (e.affine === 'scale-shift' ? `scale[${c}]` : '1.0');
  const b = (c: string) => (e.affine === 'none' ? '0.0' : `shift[${c}]`);
  const act = e.relu6 ? 'relu6' : '';
  const act4 = e.relu6 ? 'relu6v' : '';
  const aff1 = e.affine === 'none' ? 'v' : `v * ${s('c')} + ${b('c')}`;
  const aff4 =
    e.affine === 'none'
      ? 'v'
      : `v * vec4<f32>(${s('c')}, ${s('c + 1u')}, ${s('c + 2u')}, ${s('c + 3u')}) + vec4<f32>(${b('c')}, ${b('c + 1u')}, ${b('c + 2u')}, ${b('c + 3u')})`;
  return wgsl`
${RELU6_FNS}
fn epilogue(v: f32, c: u32) -> f32 { return ${act}(${aff1}); }
fn epilogue4(v: vec4<f32>, c: u32) -> vec4<f32> { return ${act4}(${aff4}); }
`;
}
