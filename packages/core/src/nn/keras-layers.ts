// The Keras layer list of `keras.applications.MobileNetV2`, name for name and in order, with output
// shapes and weight shapes. It is what `summary()` prints, what "layer index 100" means, and the
// map between checkpoint weight names and our units. The base (include_top=False, no pooling) has
// 154 layers, InputLayer included, as in Keras.
import { architecture, blockPrefix, units } from './architecture.js';

export type KerasLayerType =
  | 'InputLayer'
  | 'Conv2D'
  | 'BatchNormalization'
  | 'ReLU'
  | 'DepthwiseConv2D'
  | 'ZeroPadding2D'
  | 'Add'
  | 'GlobalAveragePooling2D'
  | 'GlobalMaxPooling2D'
  | 'Dropout'
  | 'Dense';

export interface KerasWeight {
  name: string; // `<layer>/<weight>`
  shape: number[];
  trainable: boolean; // false for BN moving statistics
}

export interface KerasLayer {
  index: number;
  name: string;
  type: KerasLayerType;
  outputShape: (number | null)[]; // batch dimension is null
  weights: KerasWeight[];
}

export interface KerasModelOptions {
  alpha: number;
  inputSize: number;
  includeTop: boolean;
  pooling?: 'avg' | 'max' | null;
  classes?: number;
}

export function kerasLayers(opts: KerasModelOptions): KerasLayer[] {
  const arch = architecture(opts.alpha);
  const layers: KerasLayer[] = [];
  let [h, w, c] = [opts.inputSize, opts.inputSize, 3];
  const push = (name: string, type: KerasLayerType, weights: KerasWeight[] = [], shape: (number | null)[] = [null, h, w, c]) =>
    layers.push({ index: layers.length, name, type, outputShape: shape, weights });
  const bn = (name: string) =>
    push(name, 'BatchNormalization', [
      { name: `${name}/gamma`, shape: [c], trainable: true },
      { name: `${name}/beta`, shape: [c], trainable: true },
      { name: `${name}/moving_mean`, shape: [c], trainable: false },
      { name: `${name}/moving_variance`, shape: [c], trainable: false },
    ]);
  // Keras 'same'/correct_pad output size: ceil(in / stride).
  const down = (v: number, s: number) => Math.ceil(v / s);

  push('input_layer', 'InputLayer');
  for (const u of units(arch)) {
    const b = u.block;
    if (u.kind === 'depthwise' && u.stride === 2) {
      // correct_pad: 0 before and 1 after on even sizes, 1 and 1 on odd sizes.
      const ph = h % 2 === 0 ? 1 : 2;
      const pw = w % 2 === 0 ? 1 : 2;
      push(`${blockPrefix(b!.index)}_pad`, 'ZeroPadding2D', [], [null, h + ph, w + pw, c]);
    }
    [h, w, c] = [down(h, u.stride), down(w, u.stride), u.outC];
    if (u.kind === 'depthwise') push(u.conv, 'DepthwiseConv2D', [{ name: `${u.conv}/depthwise_kernel`, shape: [3, 3, u.inC, 1], trainable: true }]);
    else push(u.conv, 'Conv2D', [{ name: `${u.conv}/kernel`, shape: [u.kind === 'pointwise' ? 1 : 3, u.kind === 'pointwise' ? 1 : 3, u.inC, u.outC], trainable: true }]);
    bn(u.bn);
    if (u.relu) push(u.relu, 'ReLU');
    else if (b?.residual) push(`${blockPrefix(b.index)}_add`, 'Add');
  }

  if (opts.includeTop) {
    const classes = opts.classes ?? 1000;
    push('global_average_pooling2d', 'GlobalAveragePooling2D', [], [null, c]);
    push('predictions', 'Dense', [
      { name: 'predictions/kernel', shape: [c, classes], trainable: true },
      { name: 'predictions/bias', shape: [classes], trainable: true },
    ], [null, classes]);
  } else if (opts.pooling === 'avg') push('global_average_pooling2d', 'GlobalAveragePooling2D', [], [null, c]);
  else if (opts.pooling === 'max') push('global_max_pooling2d', 'GlobalMaxPooling2D', [], [null, c]);
  return layers;
}

export const weightCount = (w: KerasWeight) => w.shape.reduce((a, b) => a * b, 1);

export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

/** Keras' summary totals, given which layers are trainable (default: all). */
export function countParams(layers: KerasLayer[], isTrainable: (l: KerasLayer) => boolean = () => true): ParamCounts {
  let total = 0;
  let trainable = 0;
  for (const l of layers) {
    for (const w of l.weights) {
      const n = weightCount(w);
      total += n;
      if (w.trainable && isTrainable(l)) trainable += n;
    }
  }
  return { total, trainable, nonTrainable: total - trainable };
}

/** Keras-style `model.summary()` text. */
export function formatSummary(title: string, layers: KerasLayer[], isTrainable?: (l: KerasLayer) => boolean): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const shape = (s: (number | null)[]) => `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
  const rows = layers.map((l) => [`${l.name} (${l.type})`, shape(l.outputShape), fmt(l.weights.reduce((s, w) => s + weightCount(w), 0))]);
  const widths = [Math.max(28, ...rows.map((r) => r[0].length)), Math.max(22, ...rows.map((r) => r[1].length)), 12];
  const line = (r: string[]) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2].padStart(widths[2])}`;
  const bar = '─'.repeat(widths[0] + widths[1] + widths[2] + 4);
  const c = countParams(layers, isTrainable);
  return [
    `Model: "${title}"`,
    bar,
    line(['Layer (type)', 'Output Shape', 'Param #']),
    bar,
    ...rows.map(line),
    bar,
    ` Total params: ${fmt(c.total)}`,
    ` Trainable params: ${fmt(c.trainable)}`,
    ` Non-trainable params: ${fmt(c.nonTrainable)}`,
  ].join('\n');
}
