// SGD with optional (Nesterov) momentum: Keras 3 `keras.optimizers.SGD(learning_rate=0.01,
// momentum=0.0, nesterov=False, weight_decay=None)`. Slot 'momentum' (Keras' name) when momentum > 0.
import { sgdUpdate, sgdMomentumUpdate, vecConfig } from '@mnv2/kernels';
import { BaseOptimizer, type Optimizer, type UpdateCtx, checkFinite } from './optimizer.js';
import { run } from '../run.js';

export interface SgdOptions {
  learningRate?: number;
  momentum?: number;
  nesterov?: boolean;
  /** Decoupled weight decay (Keras `weight_decay`): w -= w * weightDecay * lr before each update. */
  weightDecay?: number;
}

class Sgd extends BaseOptimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  constructor(o: SgdOptions) {
    super('SGD', o.learningRate ?? 0.01, o.weightDecay ?? 0);
    this.momentum = checkFinite('SGD', 'momentum', o.momentum ?? 0, 0, 1);
    this.nesterov = o.nesterov ?? false;
  }
  protected slotNames() {
    return this.momentum !== 0 ? ['momentum'] : [];
  }
  protected hyper() {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }
  protected update({ e, p, slots, init, decay }: UpdateCtx): void {
    const size = p.param.size;
    const cfg = vecConfig(size);
    if (this.momentum === 0) {
      run(e, sgdUpdate, cfg, { size, lr: this.learningRate, decay }, { p: p.param, g: p.grad });
    } else {
      const args = { size, init, lr: this.learningRate, momentum: this.momentum, decay };
      run(e, sgdMomentumUpdate, { ...cfg, nesterov: this.nesterov }, args, { p: p.param, g: p.grad, velocity: slots.momentum });
    }
  }
}

export function sgd(opts: SgdOptions = {}): Optimizer {
  return new Sgd(opts);
}
