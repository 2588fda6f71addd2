// Adam: Keras 3 `keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
// amsgrad=False, weight_decay=None)`. Slots 'momentum' (m) and 'velocity' (v), Keras' names. The
// bias correction is folded into the step size on the host (f64), as Keras does:
// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), t = iterations + 1.
import { adamUpdate, adamMultiKernel, vecConfig } from '@mnv2/kernels';
import { BaseOptimizer, type Optimizer, type UpdateCtx, checkFinite } from './optimizer.js';
import { run } from '../run.js';
import type { Tensor } from '../../gpu/tensor.js';

/** Largest parameter (values) that Adam updates together with others in one dispatch. */
export const MULTI_MAX_SIZE = 65536;

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
  private alpha(t: number): number {
    return (this.learningRate * Math.sqrt(1 - Math.pow(this.beta2, t))) / (1 - Math.pow(this.beta1, t));
  }

  /**
   * Parameters of at most MULTI_MAX_SIZE values (BatchNorm gammas/betas, small filters: most of
   * MobileNetV2's 158 tensors) are updated in groups of up to 4 per dispatch (adam-multi kernels;
   * 4 bindings per tensor, within the adapter's storage-buffer limit), the others one per dispatch.
   */
  protected override updateAll(ctxs: UpdateCtx[]): void {
    if (ctxs.length === 0) return;
    const e = ctxs[0].e;
    const group = Math.min(4, Math.floor(e.device.limits.maxStorageBuffersPerShaderStage / 4));
    const small: Record<'v4' | 's', UpdateCtx[]> = { v4: [], s: [] };
    for (const c of ctxs) {
      if (group >= 2 && c.p.param.size <= MULTI_MAX_SIZE) small[vecConfig(c.p.param.size).vec4 ? 'v4' : 's'].push(c);
      else this.update(c);
    }
    for (const [kind, list] of Object.entries(small)) {
      for (let i = 0; i < list.length; i += group) {
        const g = list.slice(i, i + group);
        if (g.length === 1) {
          this.update(g[0]);
          continue;
        }
        const buffers: Record<string, Tensor> = {};
        g.forEach((c, k) => Object.assign(buffers, { [`p${k}`]: c.p.param, [`g${k}`]: c.p.grad, [`m${k}`]: c.slots.momentum, [`v${k}`]: c.slots.velocity }));
        run(
          e,
          adamMultiKernel(g.length),
          { vec4: kind === 'v4' },
          {
            sizes: g.map((c) => c.p.param.size),
            init: g.map((c) => c.init),
            decay: g.map((c) => c.decay),
            alpha: this.alpha(g[0].t),
            oneMinusBeta1: 1 - this.beta1,
            oneMinusBeta2: 1 - this.beta2,
            epsilon: this.epsilon,
          },
          buffers as never,
        );
      }
    }
  }

  protected update({ e, p, slots, init, t, decay }: UpdateCtx): void {
    const size = p.param.size;
    const alpha = this.alpha(t);
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
