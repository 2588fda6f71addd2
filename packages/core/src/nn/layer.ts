// Execution units run forward and an explicit backward. We chose per-unit backward over a generic
// tape: MobileNetV2 is a fixed graph of ~4 unit kinds, so each unit keeps exactly the tensors its
// backward needs (no tape bookkeeping per op), can fuse freely (conv+BN+ReLU6 in one kernel when
// nothing below needs gradients), and skips input gradients under a frozen prefix.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import type { Param } from './param.js';

export interface ForwardContext {
  /** Training step: BN layers that are trainable and not forced to inference use batch statistics,
   *  dropout is active, activations needed by backward are kept. */
  training: boolean;
  /** Keras `base(x, training=False)`: BatchNorm always in inference mode (frozen-BN semantics). */
  bnInference?: boolean;
  /** Seed for this step's random ops (dropout). */
  seed?: number;
}

export interface Unit {
  readonly name: string;
  params(): Param[];
  forward(e: Engine, x: Tensor, ctx: ForwardContext): Tensor;
  /**
   * Backward from dy; writes param grads and returns dx, or null when `needInputGrad` is false
   * (nothing below trains). Must follow a forward with ctx.training.
   */
  backward(e: Engine, dy: Tensor, needInputGrad: boolean): Tensor | null;
}

export function anyTrainable(units: readonly Unit[]): boolean {
  return units.some((u) => u.params().some((p) => p.trainable));
}
