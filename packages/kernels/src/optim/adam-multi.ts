// Adam (same update as adam.ts) over 2..4 parameter tensors in ONE dispatch: the tensors' elements
// are laid end to end (offsets o1 < o2 < o3 < total, in units of the bound type) and the flat loop
// picks the tensor of each element by comparing with the offsets. MobileNetV2 has 158 parameter
// tensors, 104 of them BatchNorm gammas/betas of at most 1280 values: one dispatch each costs more
// than their data (lavapipe: tens of µs per dispatch), so the optimizer groups them (core
// ops/optim/adam.ts; 4 tensors x 4 bindings = 16 storage buffers, the adapter's limit permitting).
// Every tensor of a group has the same vec4-ness; each keeps its own `init` and `decay`.
import { defineKernel, type BindingDecl } from '../define-kernel.js';
import { MAIN_1D, vecType, vecCount, wgsl, type VecConfig } from '../wgsl.js';
import { FLAT_WG, flatLoop, flatPlan } from '../elementwise/flat-loop.js';

const UNIFORMS = {
  n: 'u32',
  rowsPerPart: 'u32',
  o1: 'u32',
  o2: 'u32',
  o3: 'u32',
  init: 'vec4u',
  decay: 'vec4f',
  alpha: 'f32',
  oneMinusBeta1: 'f32',
  oneMinusBeta2: 'f32',
  epsilon: 'f32',
} as const;

export interface AdamMultiArgs {
  /** f32 lengths of the group's tensors (2..4). */
  sizes: number[];
  init: number[];
  decay: number[];
  alpha: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  epsilon: number;
}

function defineAdamMulti(count: number) {
  const rw: BindingDecl = { access: 'read_write', type: vecType };
  const ro: BindingDecl = { access: 'read', type: vecType };
  const bindings: Record<string, BindingDecl> = {};
  for (let k = 0; k < count; k++) Object.assign(bindings, { [`p${k}`]: rw, [`g${k}`]: ro, [`m${k}`]: rw, [`v${k}`]: rw });
  const comp = ['x', 'y', 'z', 'w'];
  const update = (cfg: VecConfig, k: number, off: string) => `{
      let j = i - ${off};
      var mOld = ${vecType(cfg)}(0.0);
      var vOld = ${vecType(cfg)}(0.0);
      if (u.init.${comp[k]} == 0u) { mOld = m${k}[j]; vOld = v${k}[j]; }
      let gi = g${k}[j];
      let mNew = mOld + (gi - mOld) * u.oneMinusBeta1;
      let vNew = vOld + (gi * gi - vOld) * u.oneMinusBeta2;
      m${k}[j] = mNew;
      v${k}[j] = vNew;
      var w = p${k}[j];
      w = w - w * u.decay.${comp[k]};
      p${k}[j] = w - (mNew * u.alpha) / (sqrt(vNew) + u.epsilon);
    }`;
  const offs = ['0u', 'u.o1', 'u.o2', 'u.o3'];
  const bounds = ['u.o1', 'u.o2', 'u.o3'];
  return defineKernel({
    name: `adam-multi${count}`,
    uniforms: UNIFORMS,
    bindings,
    workgroupSize: () => [FLAT_WG, 1, 1],
    dispatch: (cfg: VecConfig, a: AdamMultiArgs) => {
      if (a.sizes.length !== count) throw new Error(`adam-multi${count}: expected ${count} tensors, got ${a.sizes.length}`);
      const ns = a.sizes.map((s) => vecCount(cfg, s));
      const o = ns.reduce<number[]>((acc, v) => [...acc, acc[acc.length - 1] + v], [0]);
      const n = o[count];
      const { rowsPerPart, grid } = flatPlan(n);
      const pad = <T>(xs: T[], v: T) => [...xs, ...Array(4 - xs.length).fill(v)] as [T, T, T, T];
      return {
        grid,
        uniforms: {
          n,
          rowsPerPart,
          o1: o[1],
          o2: o[Math.min(2, count)],
          o3: o[Math.min(3, count)],
          init: pad(a.init, 0),
          decay: pad(a.decay, 0),
          alpha: a.alpha,
          oneMinusBeta1: a.oneMinusBeta1,
          oneMinusBeta2: a.oneMinusBeta2,
          epsilon: a.epsilon,
        },
      };
    },
    key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
    body: (cfg: VecConfig) => {
      const branches = Array.from({ length: count }, (_, k) => {
        const body = update(cfg, k, offs[k]);
        if (k === count - 1) return k === 0 ? body : `else ${body}`;
        return `${k ? 'else ' : ''}if (i < ${bounds[k]}) ${body}`;
      });
      return wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
${flatLoop(branches.join('\n    '))}
}`;
    },
  });
}

export const adamMulti2 = defineAdamMulti(2);
export const adamMulti3 = defineAdamMulti(3);
export const adamMulti4 = defineAdamMulti(4);
/** The multi-tensor Adam kernel for a group of `count` tensors (2..4). */
export const adamMultiKernel = (count: number) => [adamMulti2, adamMulti3, adamMulti4][count - 2];
