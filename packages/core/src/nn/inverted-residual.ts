// MobileNetV2's inverted residual block: 1x1 expand (absent when expansion = 1) → 3x3 depthwise →
// 1x1 linear projection, plus the identity shortcut when stride is 1 and channels are unchanged.
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import type { ConvBn } from './conv-bn.js';
import type { ForwardContext, Unit } from './layer.js';
import type { Param } from './param.js';

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

  forward(e: Engine, x: Tensor, ctx: ForwardContext): Tensor {
    let h = x;
    const last = this.units.length - 1;
    let i = 0;
    this.lastForwardFusedBn = this.fuseExpandBn && last === 2 && this.units[0].canDeferBnTo(e, ctx, this.units[1]);
    if (this.lastForwardFusedBn) {
      const d = this.units[0].forwardDeferred(e, x, ctx);
      h = this.units[1].forward(e, d.z, ctx, undefined, d.bn);
      i = 2;
    }
    for (; i < last; i++) h = this.units[i].forward(e, h, ctx);
    // The shortcut joins in the projection unit (fused into its kernel when it runs inference).
    return this.units[last].forward(e, h, ctx, this.residual ? x : undefined);
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
