// Inverted dropout with a counter-based RNG: element i is kept when hash(seed, i) >= threshold
// (threshold = rate * 2^32) and scaled by 1/(1 - rate). The mask is a pure function of (seed, i), so
// the backward regenerates it instead of storing it: dropout backward is this same kernel applied to
// dy with the same rate and seed. The hash is a two-round keyed PCG output permutation
// (pcg_hash of Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020); tests mirror it on the host.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, vecType, wgsl, type VecConfig } from '../wgsl.js';
import { ELEMENTWISE_WG } from './add.js';
import { flatLoop, flatDispatch } from './flat-loop.js';

export const DROPOUT_HASH_WGSL = wgsl`
fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn dropoutBits(key: u32, i: u32) -> u32 { return pcgHash(pcgHash(i) ^ key); }
`;

/** Host mirror of the WGSL hash (for references and tests). */
export function dropoutPcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}
/** Key derived from the user seed, as the kernel derives it. */
export const dropoutKey = (seed: number) => dropoutPcgHash((seed ^ 0x9e3779b9) >>> 0);
/** Host mirror of the per-element random bits. */
export const dropoutBitsHost = (key: number, i: number) => dropoutPcgHash((dropoutPcgHash(i) ^ key) >>> 0);
/** The integer threshold for a rate in [0, 1): kept iff bits >= threshold. */
export const dropoutThreshold = (rate: number) => Math.min(0xffffffff, Math.floor(rate * 4294967296));

export const dropout = defineKernel({
  name: 'dropout',
  uniforms: { n: 'u32', rowsPerPart: 'u32', seed: 'u32', threshold: 'u32', scale: 'f32' },
  bindings: {
    x: { access: 'read', type: vecType },
    y: { access: 'read_write', type: vecType },
  },
  workgroupSize: () => [ELEMENTWISE_WG, 1, 1],
  dispatch: (cfg: VecConfig, s: { size: number; seed: number; rate: number }) => flatDispatch(cfg, s.size, { seed: s.seed, threshold: dropoutThreshold(s.rate), scale: 1 / (1 - s.rate) }),
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
  body: (cfg: VecConfig) => wgsl`
${DROPOUT_HASH_WGSL}
fn keep(key: u32, e: u32) -> f32 { return select(0.0, u.scale, dropoutBits(key, e) >= u.threshold); }
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let key = pcgHash(u.seed ^ 0x9e3779b9u);
${flatLoop(
  cfg.vec4
    ? `let e = i * 4u;
    y[i] = x[i] * vec4<f32>(keep(key, e), keep(key, e + 1u), keep(key, e + 2u), keep(key, e + 3u));`
    : 'y[i] = x[i] * keep(key, i);',
)}
}`,
});
