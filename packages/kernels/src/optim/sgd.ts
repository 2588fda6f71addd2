// SGD with optional (Nesterov) momentum, Keras 3 `keras.optimizers.SGD` semantics:
//   momentum = 0:  w -= lr * g
//   momentum > 0:  v = momentum * v - lr * g;  w += v            (slot 'momentum')
//   nesterov:      v = momentum * v - lr * g;  w += momentum * v - lr * g
// Optional decoupled weight decay first: w -= w * weight_decay * lr.
import type { VecConfig } from '../wgsl.js';
import { loadSlot, decayedParam, defineOptimizerKernel } from './common.js';

const SGD_UNIFORMS = { n: 'u32', lr: 'f32', decay: 'f32' } as const;
const SGD_MOMENTUM_UNIFORMS = { n: 'u32', init: 'u32', lr: 'f32', momentum: 'f32', decay: 'f32' } as const;

export const sgdUpdate = defineOptimizerKernel({
  name: 'sgd',
  uniforms: SGD_UNIFORMS,
  slots: [],
  update: () => `${decayedParam('w')}
  p[i] = w - g[i] * u.lr;`,
});

export interface SgdMomentumConfig extends VecConfig {
  nesterov: boolean;
}

export const sgdMomentumUpdate = defineOptimizerKernel({
  name: 'sgd.momentum',
  uniforms: SGD_MOMENTUM_UNIFORMS,
  slots: ['velocity'],
  update: (cfg: SgdMomentumConfig) => `${loadSlot(cfg, 'velocity', 'v0')}
  let gi = g[i];
  let v1 = v0 * u.momentum - gi * u.lr;
  velocity[i] = v1;
  ${decayedParam('w')}
  p[i] = w + ${cfg.nesterov ? '(v1 * u.momentum - gi * u.lr)' : 'v1'};`,
  key: (cfg: SgdMomentumConfig) => `${cfg.vec4 ? 'v4' : 's'}${cfg.nesterov ? '+nesterov' : ''}`,
});
