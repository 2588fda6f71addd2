// MobileNetV2's inverted residual block: 1x1 expand (absent when expansion = 1) → 3x3 depthwise →
// 1x1 linear projection, plus the identity shortcut when stride is 1 and channels are unchanged.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import type { ConvBn } from './conv-bn.js';
import type { ForwardContext, Unit } from './layer.js';
import type { Param } from './param.js';
import type { BatchNormAffine } from '../ops/norm/index.js';

export class InvertedResidual implements Unit {
  constructor(
    readonly name: string,
    readonly units: ConvBn[], // [expand?, depthwise, project]
    readonly residual: boolean,
    /** Keras name of the add layer (`block_N_add`), when residual. */
    readonly addName?: string,
  ) {}

  params(): Param[] {
    return this.units.flatMap((u) => u.params());
  }


  /**
   * Let the expand unit leave its training BatchNorm + ReLU6 to the depthwise conv (applied as it
   * loads; ConvBn.forwardDeferred) where that is fused. Off: every unit stores its output.
   */
  fuseExpandBn = true;
  /** Whether the last forward left the expand unit's BatchNorm to the depthwise unit. */
  lastForwardFusedBn = false;

  /**
   * With `inputBn` (a training forward whose previous unit, the stem, deferred its BatchNorm), x is
   * that BN's input and the block's first unit, a depthwise conv, applies it as it loads; only a
   * block without a shortcut takes it (the shortcut would need the normalized x).
   */
  forward(e: Engine, x: Tensor, ctx: ForwardContext, inputBn?: BatchNormAffine): Tensor {
    const u = this.units;
    if (inputBn && (this.residual || u[0].spec.kind !== 'depthwise')) throw new Error(`${this.name}: only a block that starts with a depthwise conv and has no shortcut takes inputBn`);
    const last = u.length - 1;
    let h = x;
    let pending = inputBn;
    this.lastForwardFusedBn = false;
    for (let i = 0; i < last; i++) {
      // (the projection, u[last], is never the consumer: only a depthwise unit applies an inputBn)
      if (this.fuseExpandBn && !pending && i + 1 < last && u[i].canDeferBnTo(e, ctx, u[i + 1])) {
        const d = u[i].forwardDeferred(e, h, ctx);
        [h, pending] = [d.z, d.bn];
        this.lastForwardFusedBn = true;
      } else {
        h = u[i].forward(e, h, ctx, undefined, pending);
        pending = undefined;
      }
    }
    // The shortcut joins in the projection unit (fused into its kernel when it runs inference).
    return u[last].forward(e, h, ctx, this.residual ? x : undefined, pending);
  }

  backward(e: Engine, dy: Tensor, needInputGrad: boolean): Tensor | null {
    let g: Tensor | null = dy;
    for (let i = this.units.length - 1; i >= 0; i--) {
      // A unit needs its input gradient only if the unit before it recorded (something there trains).
      const need = i > 0 ? this.units[i - 1].recordForBackward : needInputGrad;
      // The shortcut's gradient joins the branch's in the first unit's input gradient (fused there).
      g = this.units[i].backward(e, g!, need, i === 0 && this.residual ? dy : undefined);
      if (!need) break;
    }
    return needInputGrad ? g : null;
  }
}
