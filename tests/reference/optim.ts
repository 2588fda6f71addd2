// f64 reference update rules of the Keras 3 optimizers (keras/src/optimizers/{sgd,adam,rmsprop}.py
// and base_optimizer.py `_apply_weight_decay`, applied before update_step). Each function updates
// `p` and the slots in place for one step; `t` is 1-based (Keras: iterations + 1).

export interface SgdRefOpts { lr: number; momentum: number; nesterov: boolean; weightDecay?: number }
export interface AdamRefOpts { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay?: number }
export interface RmspropRefOpts { lr: number; rho: number; momentum: number; epsilon: number; weightDecay?: number }

function decay(p: Float64Array, wd: number | undefined, lr: number): void {
  if (!wd) return;
  for (let i = 0; i < p.length; i++) p[i] = p[i] - p[i] * wd * lr;
}

export function sgdStepRef(p: Float64Array, g: Float64Array, velocity: Float64Array, o: SgdRefOpts): void {
  decay(p, o.weightDecay, o.lr);
  for (let i = 0; i < p.length; i++) {
    if (o.momentum === 0) {
      p[i] -= g[i] * o.lr;
      continue;
    }
    velocity[i] = velocity[i] * o.momentum - g[i] * o.lr;
    p[i] += o.nesterov ? velocity[i] * o.momentum - g[i] * o.lr : velocity[i];
  }
}

export function adamStepRef(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, t: number, o: AdamRefOpts): void {
  decay(p, o.weightDecay, o.lr);
  const alpha = (o.lr * Math.sqrt(1 - o.beta2 ** t)) / (1 - o.beta1 ** t);
  for (let i = 0; i < p.length; i++) {
    m[i] += (g[i] - m[i]) * (1 - o.beta1);
    v[i] += (g[i] * g[i] - v[i]) * (1 - o.beta2);
    p[i] -= (m[i] * alpha) / (Math.sqrt(v[i]) + o.epsilon);
  }
}

export function rmspropStepRef(p: Float64Array, g: Float64Array, v: Float64Array, mom: Float64Array, o: RmspropRefOpts): void {
  decay(p, o.weightDecay, o.lr);
  for (let i = 0; i < p.length; i++) {
    v[i] = o.rho * v[i] + (1 - o.rho) * g[i] * g[i];
    const increment = (o.lr * g[i]) / Math.sqrt(v[i] + o.epsilon);
    if (o.momentum > 0) {
      mom[i] = o.momentum * mom[i] + increment;
      p[i] -= mom[i];
    } else p[i] -= increment;
  }
}
