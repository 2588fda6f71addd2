// RMSprop, Keras 3 `keras.optimizers.RMSprop` semantics (centered = false; epsilon INSIDE the sqrt):
//   v = rho * v + (1 - rho) * g²                        (slot 'velocity')
//   increment = lr * g / sqrt(v + epsilon)
//   momentum = 0:  w -= increment
//   momentum > 0:  mom = momentum * mom + increment;  w -= mom   (slot 'momentum')
// Optional decoupled weight decay first: w -= w * weight_decay * lr.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl, type VecConfig } from '../wgsl.js';
import { OPTIM_WG, optimVecType as vt, loadSlot, decayedParam, optimDispatch, type OptimArgs } from './common.js';

const RMS_UNIFORMS = { n: 'u32', init: 'u32', lr: 'f32', rho: 'f32', oneMinusRho: 'f32', epsilon: 'f32', decay: 'f32' } as const;
const RMS_MOMENTUM_UNIFORMS = { ...RMS_UNIFORMS, momentum: 'f32' } as const;

const velocityUpdate = (cfg: VecConfig) => `${loadSlot(cfg, 'velocity', 'v0')}
  let gi = g[i];
  let v1 = u.rho * v0 + u.oneMinusRho * (gi * gi);
  velocity[i] = v1;
  let increment = (u.lr * gi) / sqrt(v1 + u.epsilon);
  ${decayedParam('w')}`;

export const rmspropUpdate = defineKernel({
  name: 'rmsprop',
  uniforms: RMS_UNIFORMS,
  dispatch: (cfg: VecConfig, s: OptimArgs<typeof RMS_UNIFORMS>) => optimDispatch(cfg, s),
  bindings: {
    p: { access: 'read_write', type: vt },
    g: { access: 'read', type: vt },
    velocity: { access: 'read_write', type: vt },
  },
  workgroupSize: () => [OPTIM_WG, 1, 1],
  body: (cfg: VecConfig) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(OPTIM_WG)};
  if (i >= u.n) { return; }
  ${velocityUpdate(cfg)}
  p[i] = w - increment;
}`,
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
});

export const rmspropMomentumUpdate = defineKernel({
  name: 'rmsprop.momentum',
  uniforms: RMS_MOMENTUM_UNIFORMS,
  dispatch: (cfg: VecConfig, s: OptimArgs<typeof RMS_MOMENTUM_UNIFORMS>) => optimDispatch(cfg, s),
  bindings: {
    p: { access: 'read_write', type: vt },
    g: { access: 'read', type: vt },
    velocity: { access: 'read_write', type: vt },
    mom: { access: 'read_write', type: vt },
  },
  workgroupSize: () => [OPTIM_WG, 1, 1],
  body: (cfg: VecConfig) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(OPTIM_WG)};
  if (i >= u.n) { return; }
  ${velocityUpdate(cfg)}
  ${loadSlot(cfg, 'mom', 'mom0')}
  let mom1 = u.momentum * mom0 + increment;
  mom[i] = mom1;
  p[i] = w - mom1;
}`,
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
});
