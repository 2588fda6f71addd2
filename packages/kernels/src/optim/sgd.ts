// SGD with optional (Nesterov) momentum, Keras 3 `keras.optimizers.SGD` semantics:
//   momentum = 0:  w -= lr * g
//   momentum > 0:  v = momentum * v - lr * g;  w += v            (slot 'momentum')
//   nesterov:      v = momentum * v - lr * g;  w += momentum * v - lr * g
// Optional decoupled weight decay first: w -= w * weight_decay * lr.
import { defineKernel } from '../define-kernel.js';
import { MAIN_1D, flatIndex, wgsl, type VecConfig } from '../wgsl.js';
import { OPTIM_WG, optimVecType as vt, loadSlot, decayedParam, optimDispatch, type OptimArgs } from './common.js';

const SGD_UNIFORMS = { n: 'u32', lr: 'f32', decay: 'f32' } as const;
const SGD_MOMENTUM_UNIFORMS = { n: 'u32', init: 'u32', lr: 'f32', momentum: 'f32', decay: 'f32' } as const;

export const sgdUpdate = defineKernel({
  name: 'sgd',
  uniforms: SGD_UNIFORMS,
  dispatch: (cfg: VecConfig, s: OptimArgs<typeof SGD_UNIFORMS>) => optimDispatch(cfg, s),
  bindings: { p: { access: 'read_write', type: vt }, g: { access: 'read', type: vt } },
  workgroupSize: () => [OPTIM_WG, 1, 1],
  body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(OPTIM_WG)};
  if (i >= u.n) { return; }
  ${decayedParam('w')}
  p[i] = w - g[i] * u.lr;
}`,
  key: (cfg: VecConfig) => (cfg.vec4 ? 'v4' : 's'),
});

export interface SgdMomentumConfig extends VecConfig {
  nesterov: boolean;
}

export const sgdMomentumUpdate = defineKernel({
  name: 'sgd.momentum',
  uniforms: SGD_MOMENTUM_UNIFORMS,
  dispatch: (cfg: SgdMomentumConfig, s: OptimArgs<typeof SGD_MOMENTUM_UNIFORMS>) => optimDispatch(cfg, s),
  bindings: {
    p: { access: 'read_write', type: vt },
    g: { access: 'read', type: vt },
    velocity: { access: 'read_write', type: vt },
  },
  workgroupSize: () => [OPTIM_WG, 1, 1],
  body: (cfg: SgdMomentumConfig) => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(OPTIM_WG)};
  if (i >= u.n) { return; }
  ${loadSlot(cfg, 'velocity', 'v0')}
  let gi = g[i];
  let v1 = v0 * u.momentum - gi * u.lr;
  velocity[i] = v1;
  ${decayedParam('w')}
  p[i] = w + ${cfg.nesterov ? '(v1 * u.momentum - gi * u.lr)' : 'v1'};
}`,
  key: (cfg: SgdMomentumConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.nesterov ? '+nesterov' : ''}`,
});
