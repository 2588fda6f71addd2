// Adam: Keras 3 `keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
// amsgrad=False, weight_decay=None)`. Slots 'momentum' (m) and 'velocity' (v), Keras' names. The
// bias correction is folded into the step size on the host (f64), as Keras does:
// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), t = iterations + 1.
import { adamUpdate, vecConfig } from '@mnv2/kernels';
import { BaseOptimizer, type Optimizer, type UpdateCtx, checkFinite } from './optimizer.js';
import { run } from '../run.js';

export interface AdamOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay (Keras `weight_decay`; with it this is Keras' AdamW-style decay). */
  weightDecay?: number;
}

class Adam extends BaseOptimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  constructor(o: AdamOptions) {
    super('adam', o.learningRate ?? 0.001, o.weightDecay ?? 0);
    this.beta1 = checkFinite('adam', 'beta1', o.beta1 ?? 0.9, 0, 1);
    this.beta2 = checkFinite('adam', 'beta2', o.beta2 ?? 0.999, 0, 1);
    this.epsilon = checkFinite('adam', 'epsilon', o.epsilon ?? 1e-7, 0);
    if (this.beta1 === 1 || this.beta2 === 1) throw new Error('adam: beta1 and beta2 must be < 1');
  }
  protected slotNames() {
    return ['momentum', 'velocity'];
  }
  protected hyper() {
    return { beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon, amsgrad: false };
  }
  protected update({ e, p, slots, init, t, decay }: UpdateCtx): void {
    const size = p.param.size;
    const alpha = (this.learningRate * Math.sqrt(1 - Math.pow(this.beta2, t))) / (1 - Math.pow(this.beta1, t));
    run(
      e,
      adamUpdate,
      vecConfig(size),
      { size, init, alpha, oneMinusBeta1: 1 - this.beta1, oneMinusBeta2: 1 - this.beta2, epsilon: this.epsilon, decay },
      { p: p.param, g: p.grad, m: slots.momentum, v: slots.velocity },
    );
  }
}

export function adam(opts: AdamOptions = {}): Optimizer {
  return new Adam(opts);
}
