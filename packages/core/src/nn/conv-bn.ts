// Conv (3x3 full, 3x3 depthwise or 1x1 pointwise) → BatchNorm → optional ReLU6: the unit MobileNetV2
// is made of. Three execution paths:
//  - inference (or a frozen unit with nothing below it training): ONE fused kernel, BN folded into
//    the conv epilogue;
//  - training with BN in inference mode (Keras `training=False` / frozen BN): conv, then BN with
//    moving statistics; backward gives dgamma/dbeta if BN is trainable;
//  - training with BN in training mode: batch statistics, moving averages updated.
import type { Engine } from '../gpu/engine.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import {
  conv2d,
  conv2dBackwardFilter,
  conv2dBackwardInput,
  depthwiseConv2d,
  depthwiseConv2dBackwardFilter,
  depthwiseConv2dBackwardInput,
  depthwiseFusesInputBn,
  type PaddingMode,
} from '../ops/conv/index.js';
import { pointwiseConv2d, pointwiseConv2dBackwardFilter, pointwiseConv2dBackwardInput } from '../ops/matmul/index.js';
import {
  batchNormInference,
  batchNormInferenceBackward,
  batchNormTraining,
  batchNormTrainingBackward,
  batchNormTrainingStats,
  foldBatchNorm,
  type BatchNormAffine,
  type BatchNormParams,
} from '../ops/norm/index.js';
import type { Epilogue } from '../ops/epilogue.js';
import { add } from '../ops/elementwise/index.js';
import { Param } from './param.js';
import type { ForwardContext, Unit } from './layer.js';
import type { UnitKind } from './architecture.js';

export type ConvKind = UnitKind;

export interface ConvBnSpec {
  kind: ConvKind;
  /** Keras layer names: conv, bn, and the ReLU layer (absent for linear projections). */
  convName: string;
  bnName: string;
  reluName?: string;
  inChannels: number;
  outChannels: number; // = inChannels for depthwise
  stride: 1 | 2;
  padding: PaddingMode;
  epsilon: number;
  momentum: number;
}

interface Saved {
  x: Tensor;
  z: Tensor; // conv output (BN input)
  y: Tensor | null; // unit output (for the ReLU6 mask at f16); null when not kept (the consumer applies the BN, or the shortcut was added in it)
  bnTraining: boolean;
  mean?: Tensor;
  invStd?: Tensor;
  /** This unit's input is the previous unit's BN input, normalized as the conv loads it. */
  inputBn?: BatchNormAffine;
}

export class ConvBn implements Unit {
  readonly kernel: Param;
  readonly gamma: Param;
  readonly beta: Param;
  readonly movingMean: Param;
  readonly movingVariance: Param;
  /** Set by the model before a training forward: keep what backward needs. */
  recordForBackward = false;
  /** Storage type of this unit's outputs (the network's precision; f16: computed in f32, stored as f16). */
  dtype: DType = 'f32';
  private saved: Saved | null = null;
  /** Folded inference BatchNorm, reused while the four BN tensors are unchanged (see foldedBn). */
  private folded: { from: Tensor[]; stamps: number[]; scale: Tensor; shift: Tensor } | null = null;

  constructor(
    readonly spec: ConvBnSpec,
    weights: { kernel: Tensor; gamma: Tensor; beta: Tensor; movingMean: Tensor; movingVariance: Tensor },
  ) {
    // Keras names the depthwise weight `depthwise_kernel`.
    this.kernel = new Param(`${spec.convName}/${spec.kind === 'depthwise' ? 'depthwise_kernel' : 'kernel'}`, weights.kernel);
    this.gamma = new Param(`${spec.bnName}/gamma`, weights.gamma);
    this.beta = new Param(`${spec.bnName}/beta`, weights.beta);
    this.movingMean = new Param(`${spec.bnName}/moving_mean`, weights.movingMean, false);
    this.movingVariance = new Param(`${spec.bnName}/moving_variance`, weights.movingVariance, false);
  }

  get name(): string {
    return this.spec.convName;
  }

  params(): Param[] {
    return [this.kernel, this.gamma, this.beta, this.movingMean, this.movingVariance];
  }

  /** BN trains (batch statistics) only when its weights are trainable and the caller allows it. */
  private bnTrains(ctx: ForwardContext): boolean {
    return ctx.training && !ctx.bnInference && (this.gamma.trainable || this.beta.trainable);
  }

  private bn(): BatchNormParams {
    return {
      gamma: this.gamma.value,
      beta: this.beta.value,
      movingMean: this.movingMean.value,
      movingVariance: this.movingVariance.value,
      epsilon: this.spec.epsilon,
      momentum: this.spec.momentum,
    };
  }

  private conv(e: Engine, x: Tensor, epilogue?: Epilogue, dtype: DType = this.dtype, residual?: Tensor, inputBn?: BatchNormAffine): Tensor {
    const { kind, stride, padding } = this.spec;
    const w = this.kernel.value;
    if (inputBn && kind !== 'depthwise') throw new Error(`${this.name}: only a depthwise unit applies its input's BatchNorm`);
    if (kind === 'pointwise') return pointwiseConv2d(e, x, w, { epilogue, dtype, residual });
    if (residual) return add(e, residual, this.conv(e, x, epilogue, dtype, undefined, inputBn));
    if (kind === 'depthwise') return depthwiseConv2d(e, x, w, { stride, padding, epilogue, dtype, inputBn });
    return conv2d(e, x, w, { stride, padding, epilogue, dtype });
  }

  /**
   * y = relu6?(BN(conv(x))), plus `residual` when given (an inverted residual block's shortcut:
   * fused into the projection's kernel on the inference path, a separate add otherwise). With
   * `inputBn` (a training forward of a depthwise unit after forwardDeferred), x is the previous
   * unit's BN input and the conv applies that BN + ReLU6 as it loads.
   */
  forward(e: Engine, x: Tensor, ctx: ForwardContext, residual?: Tensor, inputBn?: BatchNormAffine): Tensor {
    const relu6 = this.spec.reluName !== undefined;
    this.saved = null;
    if (!ctx.training || !this.recordForBackward) {
      if (inputBn) throw new Error(`${this.name}: inputBn is for a training forward`);
      // Nothing here or below trains (so BN is in inference mode too): one fused kernel.
      const { scale, shift } = this.foldedBn(e);
      return this.conv(e, x, { scale, shift, relu6 }, this.dtype, residual);
    }
    return this.trainingForward(e, x, ctx, relu6, inputBn, residual);
  }

  /**
   * Whether this unit's training-forward BatchNorm (+ReLU6) can be left to `next` to apply as it loads
   * (forwardDeferred): an expand unit (or the stem) before a depthwise one, both recording for
   * backward, f32, and depthwise kernels that fuse it (every form but the old 'run' baseline, which
   * would only materialize it again). BN with batch statistics or in inference mode (`fit`, Keras'
   * training=False: the moving statistics) alike: both backwards recompute the ReLU6 mask from z.
   * The caller makes sure the output has no other consumer.
   */
  canDeferBnTo(e: Engine, ctx: ForwardContext, next: ConvBn): boolean {
    return (
      this.spec.kind !== 'depthwise' &&
      next.spec.kind === 'depthwise' &&
      this.spec.reluName !== undefined &&
      ctx.training &&
      this.recordForBackward &&
      next.recordForBackward &&
      this.dtype === 'f32' &&
      next.dtype === 'f32' &&
      depthwiseFusesInputBn(e)
    );
  }

  /**
   * Training forward without the BatchNorm apply: returns the conv output z and the BN (+ReLU6
   * implied) for the next unit's `inputBn`: the batch statistics, or in inference mode the moving
   * ones with the folded scale (the same scale batchNormInference applies). The unit output
   * relu6(BN(z)) is never stored (the biggest activation of a MobileNetV2 block: one pass to write it
   * and one to read it saved, and its memory). Call only where canDeferBnTo said so.
   */
  forwardDeferred(e: Engine, x: Tensor, ctx: ForwardContext): { z: Tensor; bn: BatchNormAffine } {
    if (!(ctx.training && this.recordForBackward)) throw new Error(`${this.name}: forwardDeferred needs a training forward that records for backward`);
    const z = this.conv(e, x);
    if (!this.bnTrains(ctx)) {
      // (the fold is cached per unit and replaced only after gamma/beta/statistics change: after this
      // step's backward, which reads it through the next unit's inputBn)
      const { scale } = this.foldedBn(e);
      this.saved = { x, z, y: null, bnTraining: false };
      return { z, bn: { mean: this.movingMean.value, scale, beta: this.beta.value } };
    }
    const { mean, invStd, scale } = batchNormTrainingStats(e, z, this.bn());
    this.saved = { x, z, y: null, bnTraining: true, mean, invStd };
    return { z, bn: { mean, scale, beta: this.beta.value } };
  }

  private trainingForward(e: Engine, x: Tensor, ctx: ForwardContext, relu6: boolean, inputBn?: BatchNormAffine, residual?: Tensor): Tensor {
    // At f16 the BN input z is stored f16 too: keeping it f32 was measured to change the gradients'
    // error against f32 by nothing that matters (median 4.0 vs 5.0 %, see tests/model/f16-train.test.ts)
    // for a third more memory per unit.
    const z = this.conv(e, x, undefined, this.dtype, undefined, inputBn);
    const dtype = this.dtype;
    if (this.bnTrains(ctx)) {
      // A projection's shortcut (no ReLU6 there) is added in the BN pass; y is then not kept (only a
      // ReLU6 mask reads it).
      const fused = residual && !relu6 ? residual : undefined;
      const { y, mean, invStd } = batchNormTraining(e, z, this.bn(), { relu6, dtype, residual: fused });
      this.saved = { x, z, y: fused ? null : y, bnTraining: true, mean, invStd, inputBn };
      return residual && !fused ? add(e, residual, y) : y;
    }
    const y = batchNormInference(e, z, this.bn(), { relu6, dtype });
    this.saved = { x, z, y, bnTraining: false, inputBn };
    return residual ? add(e, residual, y) : y;
  }

  /**
   * scale/shift of the folded BatchNorm for the inference path. Folding is a dispatch per unit (52
   * in MobileNetV2, as many as the convolutions): it runs again only when gamma, beta or the moving
   * statistics were replaced or written since (optimizer step, BN training, weight load: the
   * engine's write stamps), so repeated inference runs only the convolutions.
   */
  private foldedBn(e: Engine): { scale: Tensor; shift: Tensor } {
    const from = [this.gamma.value, this.beta.value, this.movingMean.value, this.movingVariance.value];
    const f = this.folded;
    if (f && from.every((t, i) => t === f.from[i] && !t.isDisposed && e.stamp(t) === f.stamps[i])) return f;
    this.releaseCaches();
    const { scale, shift } = foldBatchNorm(e, this.bn());
    e.persist(scale, shift);
    this.folded = { from, stamps: from.map((t) => e.stamp(t)), scale, shift };
    return this.folded;
  }

  /** Frees what the unit keeps between calls (the folded BatchNorm). */
  releaseCaches(): void {
    this.folded?.scale.dispose();
    this.folded?.shift.dispose();
    this.folded = null;
  }

  /**
   * Gradients of the unit's weights; returns d(loss)/dx when asked, plus `residual` when given (a
   * residual block's shortcut gradient joining at its input: fused into the pointwise input-gradient
   * kernel, a separate add otherwise).
   */
  backward(e: Engine, dy: Tensor, needInputGrad: boolean, residual?: Tensor): Tensor | null {
    const s = this.saved;
    if (!s) throw new Error(`${this.name}: backward without a recorded training forward`);
    const relu6 = this.spec.reluName !== undefined;
    const g = s.bnTraining
      ? batchNormTrainingBackward(e, s.z, s.y, dy, { mean: s.mean!, invStd: s.invStd! }, this.bn(), { relu6 })
      : batchNormInferenceBackward(e, s.z, s.y, dy, this.bn(), { relu6 });
    if (this.gamma.trainable) this.gamma.grad = g.dgamma;
    if (this.beta.trainable) this.beta.grad = g.dbeta;
    const dz = g.dx;
    const { kind, stride, padding } = this.spec;
    if (this.kernel.trainable) {
      this.kernel.grad =
        kind === 'pointwise'
          ? pointwiseConv2dBackwardFilter(e, s.x, dz)
          : kind === 'depthwise'
            ? depthwiseConv2dBackwardFilter(e, s.x, dz, { stride, padding, inputBn: s.inputBn })
            : conv2dBackwardFilter(e, s.x, dz, { stride, padding });
    }
    this.saved = null;
    if (!needInputGrad) return null;
    if (kind === 'pointwise') return pointwiseConv2dBackwardInput(e, dz, this.kernel.value, { residual });
    const dx =
      kind === 'depthwise'
        ? depthwiseConv2dBackwardInput(e, dz, this.kernel.value, s.x.shape, { stride, padding })
        : conv2dBackwardInput(e, dz, this.kernel.value, s.x.shape, { stride, padding });
    return residual ? add(e, dx, residual) : dx;
  }
}
