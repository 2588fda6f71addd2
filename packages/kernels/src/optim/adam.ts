// Adam, Keras 3 `keras.optimizers.Adam` semantics (amsgrad not supported). With t = iterations + 1:
//   alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)          (host, f64 → uniform)
//   m += (g - m) * (1 - beta1);  v += (g² - v) * (1 - beta2)  (slots 'momentum', 'velocity')
//   w -= m * alpha / (sqrt(v) + epsilon)
// Optional decoupled weight decay first: w -= w * weight_decay * lr.
import type { VecConfig } from '../wgsl.js';
import { loadSlot, decayedParam, defineOptimizerKernel } from './common.js';

const ADAM_UNIFORMS = { n: 'u32', init: 'u32', alpha: 'f32', oneMinusBeta1: 'f32', oneMinusBeta2: 'f32', epsilon: 'f32', decay: 'f32' } as const;

export const adamUpdate = defineOptimizerKernel({
  name: 'adam',
  uniforms: ADAM_UNIFORMS,
  slots: ['m', 'v'],
  update: (cfg: VecConfig) => `${loadSlot(cfg, 'm', 'm0')}
  ${loadSlot(cfg, 'v', 'v0')}
  let gi = g[i];
  let m1 = m0 + (gi - m0) * u.oneMinusBeta1;
  let v1 = v0 + (gi * gi - v0) * u.oneMinusBeta2;
  m[i] = m1;
  v[i] = v1;
  ${decayedParam('w')}
  p[i] = w - (m1 * u.alpha) / (sqrt(v1) + u.epsilon);`,
});
