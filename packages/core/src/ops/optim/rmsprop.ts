// RMSprop: Keras 3 `keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0,
// epsilon=1e-7, centered=False, weight_decay=None)`; epsilon is added INSIDE the square root
// (increment = lr * g / sqrt(v + epsilon)). Slots 'velocity' and, when momentum > 0, 'momentum'.
import { rmspropUpdate, rmspropMomentumUpdate, vecConfig } from '@mnv2/kernels';
import { BaseOptimizer, type Optimizer, type UpdateCtx, checkFinite } from './optimizer.js';
import { run } from '../run.js';

export interface RmspropOptions {
  learningRate?: number;
  rho?: number;
  momentum?: number;
  epsilon?: number;
  /** Decoupled weight decay (Keras `weight_decay`): w -= w * weightDecay * lr before each update. */
  weightDecay?: number;
}

class Rmsprop extends BaseOptimizer {
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  constructor(o: RmspropOptions) {
    super('rmsprop', o.learningRate ?? 0.001, o.weightDecay ?? 0);
    this.rho = checkFinite('rmsprop', 'rho', o.rho ?? 0.9, 0, 1);
    this.momentum = checkFinite('rmsprop', 'momentum', o.momentum ?? 0, 0, 1);
    this.epsilon = checkFinite('rmsprop', 'epsilon', o.epsilon ?? 1e-7, 0);
  }
  protected slotNames() {
    return this.momentum > 0 ? ['velocity', 'momentum'] : ['velocity'];
  }
  protected hyper() {
    return { rho: this.rho, momentum: this.momentum, epsilon: this.epsilon, centered: false };
  }
  protected update({ e, p, slots, init, decay }: UpdateCtx): void {
    const size = p.param.size;
    const cfg = vecConfig(size);
    const u = { size, init, lr: this.learningRate, rho: this.rho, oneMinusRho: 1 - this.rho, epsilon: this.epsilon, decay };
    if (this.momentum > 0) {
      run(e, rmspropMomentumUpdate, cfg, { ...u, momentum: this.momentum }, { p: p.param, g: p.grad, velocity: slots.velocity, mom: slots.momentum });
    } else {
      run(e, rmspropUpdate, cfg, u, { p: p.param, g: p.grad, velocity: slots.velocity });
    }
  }
}

export function rmsprop(opts: RmspropOptions = {}): Optimizer {
  return new Rmsprop(opts);
}
