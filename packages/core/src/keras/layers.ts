// Layer descriptors for `sequential([...])`: plain, JSON-serialisable objects. They configure the
// MobileNetV2 transfer-learning pipeline (augment → preprocess → base → pooling → dropout/dense
// head); `sequential` checks their order and maps them onto MobileNetV2Net + Head + fit().

/** `keras.Input(shape=...)` / `keras.layers.InputLayer`. */
export interface InputLayerSpec {
  readonly kind: 'InputLayer';
  readonly shape: readonly [number, number, number];
  readonly name?: string;
}
/** `keras.layers.RandomFlip(mode)` (only `'horizontal'` is supported). */
export interface RandomFlipSpec {
  readonly kind: 'RandomFlip';
  readonly mode: 'horizontal';
  readonly name?: string;
}
/** `keras.layers.RandomRotation(factor)` (fill_mode 'reflect', bilinear). */
export interface RandomRotationSpec {
  readonly kind: 'RandomRotation';
  readonly factor: number;
  readonly name?: string;
}
/** `keras.applications.mobilenet_v2.preprocess_input` (pixels [0, 255] → [-1, 1]). */
export interface PreprocessInputSpec {
  readonly kind: 'PreprocessInput';
  readonly name?: string;
}
/** `keras.layers.GlobalAveragePooling2D()` / `GlobalMaxPooling2D()`. */
export interface GlobalPooling2dSpec {
  readonly kind: 'GlobalAveragePooling2D' | 'GlobalMaxPooling2D';
  readonly name?: string;
}
/** `keras.layers.Dropout(rate)`. */
export interface DropoutSpec {
  readonly kind: 'Dropout';
  readonly rate: number;
  readonly name?: string;
}
/** Activations a Dense layer may have. */
export type DenseActivation = 'linear' | 'relu' | 'sigmoid' | 'softmax';
/** `keras.layers.Dense(units, activation)`. */
export interface DenseSpec {
  readonly kind: 'Dense';
  readonly units: number;
  readonly activation: DenseActivation;
  readonly name?: string;
}

/** Any layer descriptor (the base model itself is passed as the MobileNetV2 object). */
export type LayerSpec = InputLayerSpec | RandomFlipSpec | RandomRotationSpec | PreprocessInputSpec | GlobalPooling2dSpec | DropoutSpec | DenseSpec;

const positiveInt = (what: string, v: number) => {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
};

/** `keras.Input(shape=[h, w, 3])`: the model's input (square RGB images). */
export function inputLayer(opts: { shape: readonly [number, number, number] | readonly number[]; name?: string }): InputLayerSpec {
  const s = opts.shape;
  if (s.length !== 3 || s[2] !== 3 || s[0] !== s[1]) throw new Error(`inputLayer: shape must be [size, size, 3] (square RGB), got [${s.join(', ')}]`);
  positiveInt('inputLayer: size', s[0]);
  return { kind: 'InputLayer', shape: [s[0], s[1], 3], name: opts.name };
}

/** `keras.layers.RandomFlip('horizontal')`: random left-right flips while training. */
export function randomFlip(mode: 'horizontal' = 'horizontal', opts: { name?: string } = {}): RandomFlipSpec {
  if (mode !== 'horizontal') throw new Error(`randomFlip: only 'horizontal' is supported, got '${String(mode)}'`);
  return { kind: 'RandomFlip', mode, name: opts.name };
}

/** `keras.layers.RandomRotation(factor)`: random rotation by up to ±factor·2π while training. */
export function randomRotation(factor: number, opts: { name?: string } = {}): RandomRotationSpec {
  if (!(factor >= 0 && factor <= 1)) throw new Error(`randomRotation: factor must be in [0, 1], got ${factor}`);
  return { kind: 'RandomRotation', factor, name: opts.name };
}

/** `tf.keras.applications.mobilenet_v2.preprocess_input`: scales pixels to [-1, 1]. */
export function preprocessInput(opts: { name?: string } = {}): PreprocessInputSpec {
  return { kind: 'PreprocessInput', name: opts.name };
}

/** `keras.layers.GlobalAveragePooling2D()`. */
export function globalAveragePooling2d(opts: { name?: string } = {}): GlobalPooling2dSpec {
  return { kind: 'GlobalAveragePooling2D', name: opts.name };
}

/** `keras.layers.GlobalMaxPooling2D()`. */
export function globalMaxPooling2d(opts: { name?: string } = {}): GlobalPooling2dSpec {
  return { kind: 'GlobalMaxPooling2D', name: opts.name };
}

/** `keras.layers.Dropout(rate)`: active only while training. */
export function dropoutLayer(rate: number, opts: { name?: string } = {}): DropoutSpec {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  return { kind: 'Dropout', rate, name: opts.name };
}

/** `keras.layers.Dense(units, activation=...)` (activation default 'linear', i.e. logits). */
export function denseLayer(units: number, opts: { activation?: DenseActivation; name?: string } | DenseActivation = {}): DenseSpec {
  const o = typeof opts === 'string' ? { activation: opts } : opts;
  positiveInt('dense: units', units);
  const activation = o.activation ?? 'linear';
  if (!['linear', 'relu', 'sigmoid', 'softmax'].includes(activation)) throw new Error(`dense: activation must be linear, relu, sigmoid or softmax, got '${activation}'`);
  return { kind: 'Dense', units, activation, name: o.name };
}

/**
 * The layer constructors under Keras' names, as in `tf.keras.layers.*` (lower camel case):
 * `layers.dense(1)`, `layers.dropout(0.2)`, `layers.randomFlip('horizontal')`, …
 */
export const layers = {
  input: inputLayer,
  inputLayer,
  randomFlip,
  randomRotation,
  preprocessInput,
  globalAveragePooling2d,
  globalMaxPooling2d,
  dropout: dropoutLayer,
  dense: denseLayer,
} as const;
