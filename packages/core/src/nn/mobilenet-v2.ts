// The MobileNetV2 network as execution units: stem ConvBn, 17 inverted residual blocks, the last
// 1x1 ConvBn, and an optional classifier head. Weight names are Keras' (`block_3_expand/kernel`).
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import type { Precision } from '../gpu/engine.js';
import type { PaddingMode } from '../ops/conv/index.js';
import { architecture, blockPrefix, unitKernel, units, type Architecture, type UnitSpec } from './architecture.js';
import { ConvBn, type ConvBnSpec } from './conv-bn.js';
import { Head, type HeadSpec } from './head.js';
import { InvertedResidual } from './inverted-residual.js';
import { kerasLayers, type KerasLayer } from './keras-layers.js';
import type { ForwardContext } from './layer.js';
import { glorotUniform, seededRandom, type Param } from './param.js';

export interface MobileNetV2Options {
  alpha?: number;
  inputSize?: number; // square input, >= 32
  /** Classifier head (omit for a feature extractor, Keras include_top=False without pooling). */
  head?: Omit<HeadSpec, 'inChannels'>;
  padding?: PaddingMode; // 'same' for Keras/TF weights, 'symmetric' for PyTorch-derived ones
  epsilon?: number; // BatchNorm, Keras MobileNetV2 uses 1e-3
  momentum?: number; // BatchNorm, Keras MobileNetV2 uses 0.999
  /** Weight values by Keras name; missing names are initialised like Keras (Glorot, BN 1/0/0/1). */
  weights?: (name: string, shape: number[]) => Float32Array | undefined;
  seed?: number;
  /**
   * Storage type of the activations (default: the engine's `precision`). 'f16' stores every
   * activation as f16 and computes in f32 (weights, logits, gradients and optimizer state stay f32);
   * it needs the device feature 'shader-f16'.
   */
  precision?: Precision;
}

export class MobileNetV2Net {
  readonly arch: Architecture;
  readonly stem: ConvBn;
  readonly blocks: InvertedResidual[];
  readonly last: ConvBn;
  private _head: Head | null;

  /** The classifier head (null for a feature extractor). */
  get head(): Head | null {
    return this._head;
  }
  readonly inputSize: number;
  private _precision: Precision = 'f32';

  constructor(e: Engine, opts: MobileNetV2Options = {}) {
    const alpha = opts.alpha ?? 1.0;
    this.inputSize = opts.inputSize ?? 224;
    if (this.inputSize < 32) throw new Error(`MobileNetV2: input size must be at least 32, got ${this.inputSize}`);
    this.arch = architecture(alpha);
    const padding = opts.padding ?? 'same';
    const eps = opts.epsilon ?? 1e-3;
    const mom = opts.momentum ?? 0.999;
    const rand = seededRandom(opts.seed ?? 1);
    const value = (name: string, shape: number[], init: () => Float32Array) => {
      const data = opts.weights?.(name, shape) ?? init();
      return e.upload(data, shape);
    };
    const unit = (u: UnitSpec) => {
      const spec: ConvBnSpec = { kind: u.kind, convName: u.conv, bnName: u.bn, reluName: u.relu, inChannels: u.inC, outChannels: u.outC, stride: u.stride, padding, epsilon: eps, momentum: mom };
      const k = unitKernel(u);
      const taps = u.kind === 'pointwise' ? 1 : 9;
      const fanIn = taps * (u.kind === 'depthwise' ? 1 : u.inC);
      const fanOut = taps * (u.kind === 'depthwise' ? 1 : u.outC);
      const n = k.shape.reduce((a, b) => a * b, 1);
      const c = u.outC;
      return new ConvBn(spec, {
        kernel: value(k.name, k.shape, () => glorotUniform(n, fanIn, fanOut, rand)),
        gamma: value(`${u.bn}/gamma`, [c], () => new Float32Array(c).fill(1)),
        beta: value(`${u.bn}/beta`, [c], () => new Float32Array(c)),
        movingMean: value(`${u.bn}/moving_mean`, [c], () => new Float32Array(c)),
        movingVariance: value(`${u.bn}/moving_variance`, [c], () => new Float32Array(c).fill(1)),
      });
    };

    const seq = units(this.arch);
    this.stem = unit(seq[0]);
    this.blocks = this.arch.blocks.map((b) => {
      const p = blockPrefix(b.index);
      const blockUnits = seq.filter((u) => u.block === b).map(unit);
      return new InvertedResidual(p, blockUnits, b.residual, b.residual ? `${p}_add` : undefined);
    });
    this.last = unit(seq[seq.length - 1]);
    this._head = opts.head ? new Head(e, { ...opts.head, inChannels: this.arch.lastChannels }, (opts.seed ?? 1) + 7) : null;
    this.setPrecision(e, opts.precision ?? e.precision);
  }

  /** Storage type of the activations (see MobileNetV2Options.precision). */
  get precision(): Precision {
    return this._precision;
  }

  /** Switches the activations' storage type (f16 needs 'shader-f16': throws a PrecisionError naming the adapter otherwise). */
  setPrecision(e: Engine, p: Precision): void {
    if (p !== 'f32' && p !== 'f16') throw new Error(`MobileNetV2: precision must be 'f32' or 'f16', got '${String(p)}'`);
    if (p === 'f16') e.requireF16();
    this._precision = p;
    for (const u of this.convUnits()) u.dtype = p;
  }

  /** ConvBn units in execution order (stem, blocks' units, last). */
  convUnits(): ConvBn[] {
    return [this.stem, ...this.blocks.flatMap((b) => b.units), this.last];
  }

  /** Puts a head on the network (or removes it): the Keras API builds its head after the base. The caller owns the old head. */
  attachHead(head: Head | null): void {
    this._head = head;
  }

  params(): Param[] {
    return [...this.convUnits().flatMap((u) => u.params()), ...(this.head?.params() ?? [])];
  }

  /** Frees every weight (the head's too) and what the units cache (folded BatchNorm): the network is unusable after. */
  dispose(): void {
    for (const u of this.convUnits()) u.releaseCaches();
    for (const p of this.params()) p.value.dispose();
  }

  trainableParams(): Param[] {
    return this.params().filter((p) => p.trainable);
  }

  /** The Keras layers of the base (include_top=False, no pooling: 154, InputLayer = 0), in order. */
  baseLayers(): readonly KerasLayer[] {
    return (this._baseLayers ??= kerasLayers({ alpha: this.arch.alpha, inputSize: this.inputSize, includeTop: false }));
  }
  private _baseLayers?: KerasLayer[];
  /** Keras `base.trainable` and each base layer's `layer.trainable` (a weight trains when both do). */
  private baseOn = true;
  private readonly layerOn = new Map<string, boolean>();

  /** Keras index of a base layer given by index (negative counts from the end) or name. */
  baseLayerIndex(at: number | string): number {
    const layers = this.baseLayers();
    if (typeof at === 'string') {
      const l = layers.find((x) => x.name === at);
      if (!l) throw new Error(`MobileNetV2: no layer named '${at}' (names are Keras', e.g. 'block_13_expand'; see base.summary())`);
      return l.index;
    }
    const n = layers.length;
    if (!Number.isInteger(at) || at < -n || at > n) throw new Error(`MobileNetV2: layer index must be an integer in [${-n}, ${n}] (the base has ${n} layers), got ${at}`);
    return at < 0 ? n + at : at;
  }

  /**
   * Which weights of the convolutional base train (the one fine-tuning API; the head is not touched):
   *  - `false` / `true`: Keras `base.trainable = False / True` (every layer's flag follows, as in Keras);
   *  - a Keras layer index (negative from the end) or name: the fine-tuning recipe
   *    `base.trainable = True; for layer in base.layers[:at]: layer.trainable = False`.
   * BatchNorm moving statistics never train. Returns the names of the base layers whose weights train now.
   */
  setBaseTrainable(from: boolean | number | string): string[] {
    if (typeof from === 'boolean') {
      this.baseOn = from;
      for (const l of this.baseLayers()) this.layerOn.set(l.name, from);
    } else {
      const k = this.baseLayerIndex(from);
      this.baseOn = true;
      for (const l of this.baseLayers()) this.layerOn.set(l.name, l.index >= k);
    }
    return this.syncTrainable();
  }

  /** Keras `base.trainable`, as last set by {@link setBaseTrainable}. */
  get baseTrainable(): boolean {
    return this.baseOn;
  }

  /** Keras `base.layers[i].trainable` of the base layer `name` (the flag, not counting `baseTrainable`). */
  layerTrainable(name: string): boolean {
    return this.layerOn.get(name) ?? true;
  }

  /** Sets one base layer's Keras `trainable` flag (`base.get_layer(name).trainable = v`). */
  setLayerTrainable(name: string, v: boolean): void {
    this.baseLayerIndex(name);
    this.layerOn.set(name, v);
    this.syncTrainable();
  }

  private syncTrainable(): string[] {
    for (const u of this.convUnits()) {
      for (const p of u.params()) if (!p.name.includes('moving_')) p.trainable = this.baseOn && this.layerTrainable(p.layer);
    }
    return this.baseLayers().filter((l) => l.weights.length > 0 && this.baseOn && this.layerTrainable(l.name)).map((l) => l.name);
  }

  /** Marks which units must keep activations: those with something trainable at or below them. */
  private planBackward(): void {
    let below = false;
    for (const u of this.convUnits()) {
      below ||= u.params().some((p) => p.trainable);
      u.recordForBackward = below;
    }
    if (this.head) this.head.recordForBackward = below || this.head.params().some((p) => p.trainable);
  }

  forward(e: Engine, x: Tensor, ctx: ForwardContext): Tensor {
    const s = this.inputSize;
    if (x.shape.length !== 4 || x.shape[1] !== s || x.shape[2] !== s || x.shape[3] !== 3) {
      throw new Error(`MobileNetV2: input must be [N,${s},${s},3], got [${x.shape}]`);
    }
    if (ctx.training) this.planBackward();
    // The stem's output feeds only block 0's depthwise conv (no shortcut there): in a training
    // forward it may leave its BatchNorm + ReLU6 to that kernel (see InvertedResidual.fuseExpandBn).
    const b0 = this.blocks[0];
    this.lastForwardFusedStemBn = !!b0 && this.fuseStemBn && !b0.residual && this.stem.canDeferBnTo(e, ctx, b0.units[0]);
    if (this.lastForwardFusedStemBn) {
      const d = this.stem.forwardDeferred(e, x, ctx);
      return this.runFrom(e, b0.forward(e, d.z, ctx, d.bn), 1, ctx);
    }
    return this.runFrom(e, this.stem.forward(e, x, ctx), 0, ctx);
  }

  /** Let the stem leave its training BatchNorm + ReLU6 to block 0's depthwise kernels where they fuse it. */
  fuseStemBn = true;
  /** Whether the last forward did. */
  lastForwardFusedStemBn = false;

  /**
   * Index of the first inverted-residual block holding a trainable weight (`blocks.length` when only
   * Conv_1 and the head train; -1 when the stem trains or nothing in the base does).
   */
  firstTrainableBlock(): number {
    const trains = (u: { params(): Param[] }) => u.params().some((p) => p.trainable);
    if (trains(this.stem)) return -1;
    const b = this.blocks.findIndex((blk) => blk.units.some(trains));
    if (b >= 0) return b;
    return trains(this.last) ? this.blocks.length : -1;
  }

  /**
   * The activation entering `blocks[b]` (`b = blocks.length`: entering Conv_1), BatchNorm in
   * inference mode. With everything below `b` frozen this is a fixed function of the image, so
   * fine-tuning without augmentation can compute it once per image and train from it.
   */
  prefixForward(e: Engine, x: Tensor, b: number): Tensor {
    const ctx = { training: false };
    let h = this.stem.forward(e, x, ctx);
    for (let i = 0; i < b; i++) h = this.blocks[i].forward(e, h, ctx);
    return h;
  }

  /**
   * The rest of `forward` from the activation entering `blocks[b]` (see `prefixForward`), or from the
   * pooled base output [N, 1, 1, C] into the head (`b = 'head'`: the whole base frozen, its features cached).
   */
  forwardFrom(e: Engine, h: Tensor, b: number | 'head', ctx: ForwardContext): Tensor {
    if (ctx.training) this.planBackward();
    if (b !== 'head') return this.runFrom(e, h, b, ctx);
    if (!this.head) throw new Error('MobileNetV2: forwardFrom(head) needs a classifier head');
    return this.head.forward(e, h, ctx);
  }

  private runFrom(e: Engine, h: Tensor, b: number, ctx: ForwardContext): Tensor {
    for (let i = b; i < this.blocks.length; i++) h = this.blocks[i].forward(e, h, ctx);
    h = this.last.forward(e, h, ctx);
    return this.head ? this.head.forward(e, h, ctx) : h;
  }

  /** Backward from d(loss)/d(output); fills `grad` of every trainable param. */
  backward(e: Engine, dy: Tensor): void {
    // Each stage needs its input gradient only if the stage before it recorded (something there trains).
    const lastUnitOf = (i: number) => (i < 0 ? this.stem : this.blocks[i].units[this.blocks[i].units.length - 1]);
    let g: Tensor | null = dy;
    if (this.head) g = this.head.backward(e, g, this.last.recordForBackward);
    if (g) g = this.last.backward(e, g, lastUnitOf(this.blocks.length - 1).recordForBackward);
    for (let i = this.blocks.length - 1; i >= 0 && g; i--) g = this.blocks[i].backward(e, g, lastUnitOf(i - 1).recordForBackward);
    if (g) this.stem.backward(e, g, false);
  }
}
