// WGSL helpers shared by kernels. `wgsl` is a plain template tag (editor highlighting only).

export const wgsl = (strings: TemplateStringsArray, ...values: unknown[]): string =>
  strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');

/** Specialization of element-wise kernels that can bind their arrays as vec4<f32>. */
export interface VecConfig {
  /** Bind arrays as vec4<f32> (length must be a multiple of 4). */
  vec4: boolean;
}
/** vec4 binding when the f32 length `size` (elements, or channels) is a multiple of 4. */
export const vecConfig = (size: number): VecConfig => ({ vec4: size % 4 === 0 });
/** `size` f32 elements in units of the bound type. */
export const vecCount = (cfg: VecConfig, size: number): number => (cfg.vec4 ? size / 4 : size);
/** The WGSL element type of a {@link VecConfig} kernel's arrays. */
export const vecType = (cfg: VecConfig) => (cfg.vec4 ? 'vec4<f32>' : 'f32');

export const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);

/** Max workgroups per dispatch dimension (WebGPU default limit). */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * A 1D grid of `count` workgroups folded into x/y so no dimension exceeds the WebGPU limit.
 * Kernels recover the flat workgroup index with `flatWorkgroup(wid, nwg)` below.
 */
export function grid1d(count: number): [number, number, number] {
  if (count <= MAX_WORKGROUPS_PER_DIM) return [Math.max(1, count), 1, 1];
  const y = ceilDiv(count, MAX_WORKGROUPS_PER_DIM);
  return [ceilDiv(count, y), y, 1];
}

/** WGSL builtins signature for a 1D kernel whose grid may be folded by grid1d. */
export const MAIN_1D = `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32`;

/** Flat invocation index for a kernel declared with MAIN_1D and workgroup size `wg`. */
export const flatIndex = (wg: number) => `((wid.y * nwg.x + wid.x) * ${wg}u + lid)`;

/** The ReLU6 clamp and its gradient mask, used by fused epilogues. */
export const RELU6_FNS = wgsl`
fn relu6(v: f32) -> f32 { return clamp(v, 0.0, 6.0); }
fn relu6v(v: vec4<f32>) -> vec4<f32> { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
// Gradient mask from the ReLU6 *output*: open interval (0, 6), matching the reference convention.
fn relu6Mask(y: f32) -> f32 { return select(0.0, 1.0, y > 0.0 && y < 6.0); }
fn relu6MaskV(y: vec4<f32>) -> vec4<f32> { return select(vec4<f32>(0.0), vec4<f32>(1.0), (y > vec4<f32>(0.0)) & (y < vec4<f32>(6.0))); }
`;
