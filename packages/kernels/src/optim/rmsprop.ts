// RMSprop, Keras 3 `keras.optimizers.RMSprop` semantics (centered = false; epsilon INSIDE the sqrt):
//   v = rho * v + (1 - rho) * g²                        (slot 'velocity')
//   increment = lr * g / sqrt(v + epsilon)
//   momentum = 0:  w -= increment
//   momentum > 0:  mom = momentum * mom + increment;  w -= mom   (slot 'momentum')
// Optional decoupled weight decay first: w -= w * weight_decay * lr.
import type { VecConfig } from '../wgsl.js';
import { loadSlot, decayedParam, defineOptimizerKernel } from './common.js';

const RMS_UNIFORMS = { n: 'u32', init: 'u32', lr: 'f32', rho: 'f32', oneMinusRho: 'f32', epsilon: 'f32', decay: 'f32' } as const;
const RMS_MOMENTUM_UNIFORMS = { ...RMS_UNIFORMS, momentum: 'f32' } as const;

const velocityUpdate = (cfg: VecConfig) => `${loadSlot(cfg, 'velocity', 'v0')}
  let gi = g[i];
  let v1 = u.rho * v0 + u.oneMinusRho * (gi * gi);
  velocity[i] = v1;
  let increment = (u.lr * gi) / sqrt(v1 + u.epsilon);
  ${decayedParam('w')}`;

export const rmspropUpdate = defineOptimizerKernel({
  name: 'rmsprop',
  uniforms: RMS_UNIFORMS,
  slots: ['velocity'],
  update: (cfg: VecConfig) => `${velocityUpdate(cfg)}
  p[i] = w - increment;`,
});

export const rmspropMomentumUpdate = defineOptimizerKernel({
  name: 'rmsprop.momentum',
  uniforms: RMS_MOMENTUM_UNIFORMS,
  slots: ['velocity', 'mom'],
  update: (cfg: VecConfig) => `${velocityUpdate(cfg)}
  ${loadSlot(cfg, 'mom', 'mom0')}
  let mom1 = u.momentum * mom0 + increment;
  mom[i] = mom1;
  p[i] = w - mom1;`,
});
