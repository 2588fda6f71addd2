// Classifier head: global pooling → dropout → optional hidden Dense(ReLU) → Dense (logits).
// Matches the Keras tutorials' head; Keras' own include_top head is pooling → Dense without dropout.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { dense, denseBackward } from '../ops/matmul/index.js';
import { dropout, dropoutBackward, globalAvgPool, globalAvgPoolBackward, globalMaxPool, globalMaxPoolBackward } from '../ops/elementwise/index.js';
import { Param, glorotUniform, seededRandom } from './param.js';
import type { ForwardContext, Unit } from './layer.js';

export interface HeadSpec {
  inChannels: number;
  classes: number;
  pooling: 'avg' | 'max';
  dropout: number;
  hidden?: number; // units of an extra Dense(ReLU) layer (CIFAR-10 lab: 128)
  poolName?: string;
  denseName?: string;
  hiddenName?: string;
}

interface DenseLayer {
  w: Param;
  b: Param;
  relu: boolean;
}

export class Head implements Unit {
  readonly layers: DenseLayer[] = [];
  recordForBackward = false;
  private saved: { x: Tensor; pooled: Tensor; dropped: Tensor; acts: Tensor[]; seed: number } | null = null;

  constructor(
    e: Engine,
    readonly spec: HeadSpec,
    seed = 1,
  ) {
    // Keras defaults: Glorot-uniform kernels, zero biases.
    const rand = seededRandom(seed);
    const mk = (name: string, inN: number, outN: number, relu: boolean): DenseLayer => ({
      w: new Param(`${name}/kernel`, e.upload(glorotUniform(inN * outN, inN, outN, rand), [inN, outN])),
      b: new Param(`${name}/bias`, e.upload(new Float32Array(outN), [outN])),
      relu,
    });
    let inN = spec.inChannels;
    if (spec.hidden) {
      this.layers.push(mk(spec.hiddenName ?? 'dense', inN, spec.hidden, true));
      inN = spec.hidden;
    }
    this.layers.push(mk(spec.denseName ?? 'predictions', inN, spec.classes, false));
  }

  get name(): string {
    return this.spec.denseName ?? 'predictions';
  }

  params(): Param[] {
    return this.layers.flatMap((l) => [l.w, l.b]);
  }

  forward(e: Engine, x: Tensor, ctx: ForwardContext): Tensor {
    const pooled = this.spec.pooling === 'max' ? globalMaxPool(e, x) : globalAvgPool(e, x);
    const seed = ctx.seed ?? 0;
    const dropped = ctx.training && this.spec.dropout > 0 ? dropout(e, pooled, this.spec.dropout, seed) : pooled;
    let h = dropped;
    const acts: Tensor[] = [];
    for (const l of this.layers) {
      acts.push(h);
      // hidden activations keep the input's storage (f16 at --precision f16); logits are f32
      h = dense(e, h, l.w.value, l.b.value, { relu: l.relu, dtype: l === this.layers[this.layers.length - 1] ? 'f32' : h.dtype });
    }
    acts.push(h);
    this.saved = ctx.training && this.recordForBackward ? { x, pooled, dropped, acts, seed } : null;
    return h;
  }

  backward(e: Engine, dy: Tensor, needInputGrad: boolean): Tensor | null {
    const s = this.saved;
    if (!s) throw new Error(`${this.name}: backward without a recorded training forward`);
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i];
      const r = denseBackward(e, s.acts[i], l.w.value, g, { y: s.acts[i + 1], relu: l.relu });
      if (l.w.trainable) l.w.grad = r.dw;
      if (l.b.trainable) l.b.grad = r.db;
      g = r.dx;
    }
    this.saved = null;
    if (!needInputGrad) return null;
    if (s.dropped !== s.pooled) g = dropoutBackward(e, g, this.spec.dropout, s.seed);
    return this.spec.pooling === 'max' ? globalMaxPoolBackward(e, s.x, g) : globalAvgPoolBackward(e, g, s.x.shape);
  }
}
