/// <reference lib="esnext.disposable" />
// The Keras `tf.keras.applications.MobileNetV2(include_top=False, weights=...)` object: a
// MobileNetV2Net without head plus the Keras layer list (154 layers, InputLayer = 0), each with a
// settable `trainable` flag. Effective trainability follows Keras: a weight trains when the base is
// trainable AND its layer is; BatchNorm moving statistics never train.
import type { Engine } from '../gpu/engine.js';
import { MobileNetV2Net } from '../nn/mobilenet-v2.js';
import { countParams, formatSummary, weightCount, type KerasLayer, type KerasLayerType, type KerasWeight, type ParamCounts } from '../nn/keras-layers.js';
import { checkWeights, expectedWeights, formatCheck, weightSource, type WeightMap } from '../io/weight-map.js';
import { getDefaultEngine, need } from './platform.js';

/** Options of {@link MobileNetV2.pretrained} (Keras `MobileNetV2(...)` arguments). */
export interface MobileNetV2PretrainedOptions {
  /** Width multiplier (Keras `alpha`), default 1.0. Must match the weights. */
  alpha?: number;
  /** `[size, size, 3]`, size >= 32 (Keras `input_shape`), default [224, 224, 3]. */
  inputShape?: readonly [number, number, number] | readonly number[];
  /** Only `false` is supported (the transfer-learning base; add your own head with `sequential`). */
  includeTop?: false;
  /**
   * `'imagenet'` (resolved by the platform: in Node the shared TF-Slim dump or `MNV2_WEIGHTS`), a
   * path (Node: a TF-Slim .npy folder, .safetensors or Keras .h5 file), a Keras-named weight map, or
   * `null` for random initialisation (Keras `weights=None`). Default `'imagenet'`.
   */
  weights?: 'imagenet' | string | WeightMap | null;
  /** Engine to run on (default: the platform's default engine). */
  engine?: Engine;
  /** Model name (default Keras': `mobilenetv2_1.00_160`). */
  name?: string;
  /** Seed of the random initialisation (weights: null). */
  seed?: number;
}

/** One Keras layer of the base, with a settable `trainable` flag (Keras `base.layers[i]`). */
export class BaseLayer {
  /** @internal */
  constructor(
    private readonly base: MobileNetV2,
    /** Keras layer index (InputLayer = 0). */
    readonly index: number,
    /** Keras layer name (e.g. `block_13_expand`). */
    readonly name: string,
    /** Keras class name (e.g. `Conv2D`). */
    readonly type: KerasLayerType,
    /** Output shape, batch dimension null. */
    readonly outputShape: readonly (number | null)[],
    /** Weights with Keras shapes. */
    readonly weights: readonly KerasWeight[],
  ) {}

  /** Keras `layer.trainable`: setting it freezes or unfreezes this layer's weights. */
  get trainable(): boolean {
    return this.base.net.layerTrainable(this.name);
  }
  set trainable(v: boolean) {
    this.base.net.setLayerTrainable(this.name, v);
  }

  /** Number of weight values of this layer (Keras `layer.count_params()`). */
  countParams(): number {
    return this.weights.reduce((s, w) => s + weightCount(w), 0);
  }
}

const kerasName = (alpha: number, size: number) => `mobilenetv2_${alpha.toFixed(2)}_${size}`;

/** MobileNetV2 feature extractor (Keras `include_top=False`, no pooling): the transfer-learning base. */
export class MobileNetV2 {
  /** The network (no head until a `sequential` model attaches one). */
  readonly net: MobileNetV2Net;
  /** The 154 Keras layers of the base, in Keras order (`base.layers.length === 154`). */
  readonly layers: readonly BaseLayer[];
  readonly name: string;
  readonly alpha: number;
  /** `[size, size, 3]`. */
  readonly inputShape: readonly [number, number, number];
  private disposed = false;
  /** The model this base belongs to (a base can be part of one model). @internal */
  owner: object | null = null;

  /**
   * Keras `tf.keras.applications.MobileNetV2(input_shape, alpha, include_top=False, weights)`.
   * Resolves string weights through the platform and checks that they hold the whole base.
   */
  static async pretrained(opts: MobileNetV2PretrainedOptions = {}): Promise<MobileNetV2> {
    const alpha = opts.alpha ?? 1.0;
    const shape = opts.inputShape ?? [224, 224, 3];
    if (shape.length !== 3 || shape[0] !== shape[1] || shape[2] !== 3) throw new Error(`MobileNetV2: inputShape must be [size, size, 3] (square RGB), got [${shape.join(', ')}]`);
    if ((opts.includeTop as boolean | undefined) === true) throw new Error('MobileNetV2.pretrained: includeTop: true is not supported here (this is the transfer-learning base); use the `mnv2 classify` path for the ImageNet classifier');
    const spec = opts.weights === undefined ? 'imagenet' : opts.weights;
    let map: WeightMap | null = null;
    if (typeof spec === 'string') map = await need('loadWeights', `weights '${spec}'`)(spec, { alpha });
    else map = spec;
    const engine = opts.engine ?? (await getDefaultEngine());
    return new MobileNetV2(engine, { alpha, inputSize: shape[0], weights: map, name: opts.name, seed: opts.seed, source: typeof spec === 'string' ? spec : undefined });
  }

  /** Builds the base on `engine` from a weight map (null = random init). Prefer {@link MobileNetV2.pretrained}. */
  constructor(
    readonly engine: Engine,
    opts: { alpha: number; inputSize: number; weights: WeightMap | null; name?: string; seed?: number; source?: string },
  ) {
    this.alpha = opts.alpha;
    this.inputShape = [opts.inputSize, opts.inputSize, 3];
    this.name = opts.name ?? kerasName(opts.alpha, opts.inputSize);
    if (opts.weights) {
      const base = new Map([...opts.weights].filter(([n]) => !n.startsWith('predictions/')));
      const c = checkWeights(base, expectedWeights(opts.alpha));
      if (c.missing.length || c.mismatched.length) {
        throw new Error(`MobileNetV2: weights${opts.source ? ` '${opts.source}'` : ''} do not hold a MobileNetV2 alpha ${opts.alpha} base:\n${formatCheck({ ...c, unexpected: [] })}`);
      }
    }
    this.net = new MobileNetV2Net(engine, {
      alpha: opts.alpha,
      inputSize: opts.inputSize,
      weights: opts.weights ? weightSource(opts.weights, { source: opts.source }) : undefined,
      seed: opts.seed,
    });
    this.layers = this.net.baseLayers().map((l) => new BaseLayer(this, l.index, l.name, l.type, l.outputShape, l.weights));
  }

  /**
   * Keras `base.trainable`: setting it sets every layer's flag (as Keras does). The flags live in the
   * network: fine-tuning from a layer is `base.net.setBaseTrainable(at)` (index, negative index or name).
   */
  get trainable(): boolean {
    return this.net.baseTrainable;
  }
  set trainable(v: boolean) {
    this.net.setBaseTrainable(v);
  }

  /** Keras `base.get_layer(name)`, or by index (negative counts from the end). */
  getLayer(at: string | number): BaseLayer {
    return this.layers[this.net.baseLayerIndex(at)];
  }

  /** Keras layer list with the current trainable flags (for summaries). */
  kerasLayers(): KerasLayer[] {
    return this.layers.map((l) => ({ index: l.index, name: l.name, type: l.type, outputShape: [...l.outputShape], weights: l.weights.map((w) => ({ ...w, trainable: w.trainable && this.trainable && l.trainable })) }));
  }

  /** Keras' totals (total / trainable / non-trainable), from the layer list and flags. */
  countParams(): ParamCounts {
    return countParams(this.kerasLayers());
  }

  /** Values in weights the optimizer would update now, counted from the network's own parameters. */
  trainableParamCount(): number {
    return this.net.convUnits().flatMap((u) => u.params()).filter((p) => p.trainable).reduce((s, p) => s + p.value.size, 0);
  }

  /** Keras `base.summary()` text (154 rows). */
  summary(): string {
    return formatSummary(this.name, this.kerasLayers());
  }

  /** True after {@link dispose}. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the base's GPU weights. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.net.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
