// Keras .h5 weights in Keras 2's exact layout (what `model.save_weights('x.h5')` writes, and so the
// published MobileNetV2 files), with h5wasm on its in-memory file system: bytes out, no file access.
//   root: attrs layer_names (fixed-length byte strings, model order), backend, keras_version
//     group per layer (created in name order, as Keras sorts them), attr weight_names (byte strings;
//     an empty float64 array for layers without weights), float32 datasets at <layer>/<weight_name>
//     (`Conv1/Conv1/kernel:0`: the weight name's `/` makes a nested group; a nested model's group
//     holds its layers' weights: `mobilenetv2_1.00_160/Conv1/kernel:0`).
// `tutorialModelH5` lays out the transfer-learning tutorial's model (input → augmentation →
// preprocess_input → MobileNetV2 base → pooling → dropout → [Dense relu] → Dense); `kerasLayerSpecs`
// the base/classifier alone, from the one Keras layer list (`kerasLayers`, derived from `units()`).
import type { Group } from 'h5wasm';
import { kerasLayers } from '../nn/keras-layers.js';
import { loadH5 } from '../io/h5.js';
import type { WeightMap } from '../io/weight-map.js';

export interface H5WeightSpec {
  /** As it goes into weight_names (`Conv1/kernel:0`). */
  name: string;
  shape: number[];
  data: Float32Array | Float64Array;
  /** Dataset dtype (default '<f', float32). */
  dtype?: string;
}

export interface H5LayerSpec {
  name: string;
  weights: H5WeightSpec[];
}

export interface WriteKerasH5Options {
  /** 'weights' (default): layer groups at the root; 'model': under `model_weights`, with model_config. */
  layout?: 'weights' | 'model';
  kerasVersion?: string;
  backend?: string;
  /** Input size written into model_config's InputLayer (layout 'model'). */
  inputSize?: number;
  /** Leave these dataset paths (`<layer>/<weight_name>`) out while still listing them in weight_names (tests). */
  omitDatasets?: string[];
  /** Split layer_names into this many chunks (layer_names0, layer_names1, …) as Keras does past 64 KiB. */
  layerNameChunks?: number;
}

let seq = 0;

/** Fixed-length ASCII byte strings, like numpy's `S` dtype (as long as the longest). */
function writeStrings(target: { create_attribute: (n: string, d: string[], s: number[] | null, t: string) => void }, name: string, list: string[]) {
  const width = Math.max(1, ...list.map((s) => s.length));
  target.create_attribute(name, list, [list.length], `S${width}`);
}

/** Writes layers as a Keras .h5 weights file (superblock version 0, like h5py's default). */
export async function writeKerasH5(layers: H5LayerSpec[], opts: WriteKerasH5Options = {}): Promise<Uint8Array> {
  const { h5, mod } = await loadH5();
  const path = `/mnv2-write-${++seq}.h5`;
  const f = new h5.File(path, 'w', { libver: ['earliest', 'latest'] } as never);
  try {
    const version = opts.kerasVersion ?? '2.15.0';
    const backend = opts.backend ?? 'tensorflow';
    let root: Group = f;
    if (opts.layout === 'model') {
      const size = opts.inputSize ?? 224;
      const config = {
        class_name: 'Model',
        config: {
          name: 'mobilenetv2',
          layers: [{ class_name: 'InputLayer', name: layers[0]?.name ?? 'input_1', config: { batch_input_shape: [null, size, size, 3], dtype: 'float32', name: layers[0]?.name ?? 'input_1' } }],
        },
      };
      f.create_attribute('keras_version', version, null, `S${version.length}`);
      f.create_attribute('backend', backend, null, `S${backend.length}`);
      const json = JSON.stringify(config);
      f.create_attribute('model_config', json, null, `S${json.length}`);
      root = f.create_group('model_weights');
    }
    const names = layers.map((l) => l.name);
    const chunks = opts.layerNameChunks ?? 1;
    if (chunks > 1) {
      const per = Math.ceil(names.length / chunks);
      for (let i = 0; i < chunks; i++) writeStrings(root, `layer_names${i}`, names.slice(i * per, (i + 1) * per));
    } else writeStrings(root, 'layer_names', names);
    root.create_attribute('backend', backend, null, `S${backend.length}`);
    root.create_attribute('keras_version', version, null, `S${version.length}`);

    const omit = new Set(opts.omitDatasets ?? []);
    for (const layer of [...layers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const g = root.create_group(layer.name);
      if (layer.weights.length) writeStrings(g, 'weight_names', layer.weights.map((w) => w.name));
      else g.create_attribute('weight_names', new Float64Array(0), [0], '<d');
      for (const w of layer.weights) {
        if (omit.has(`${layer.name}/${w.name}`)) continue;
        // Nested groups for the `/` in the weight name.
        const parts = w.name.split('/');
        let parent: Group = g;
        for (const p of parts.slice(0, -1)) {
          const existing = parent.get(p);
          parent = existing instanceof h5.Group ? existing : parent.create_group(p);
        }
        parent.create_dataset({ name: parts[parts.length - 1], data: w.data, shape: w.shape, dtype: w.dtype ?? '<f' });
      }
    }
  } finally {
    f.close();
  }
  const bytes = mod.FS.readFile(path) as Uint8Array;
  mod.FS.unlink(path);
  return new Uint8Array(bytes);
}

/** The original port's layer name for a Keras MobileNetV2 layer name (the published files use them). */
export function legacyName(keras: string): string {
  const m = /^(?:block_(\d+)|expanded_conv)_(expand|depthwise|project)(_BN|_relu|_pad)?$/.exec(keras);
  if (m) {
    const n = m[1] ?? '0';
    if (!m[3]) return `mobl${n}_conv_${n}_${m[2]}`;
    if (m[3] === '_BN') return `bn${n}_conv_${n}_bn_${m[2]}`;
    return `${m[2] === 'depthwise' ? 'conv_dw' : 'conv'}_${n}${m[3]}`;
  }
  if (/^block_\d+_add$/.test(keras)) return keras.replace(/^block_(\d+)_add$/, 'res_connect_$1');
  if (keras === 'predictions') return 'Logits';
  if (keras === 'input_layer') return 'input_1';
  return keras;
}

const weightOf = (weights: WeightMap, name: string) => {
  const t = weights.get(name);
  if (!t) throw new Error(`keras-h5: the weight map has no ${name}`);
  return t;
};

/**
 * The layers of Keras' MobileNetV2 (every layer, weights or not) filled from a weight map with Keras
 * names. `names: 'legacy'` uses the layer names of the published files (`mobl1_conv_1_expand`, …).
 */
export function kerasLayerSpecs(
  weights: WeightMap,
  opts: { alpha: number; inputSize: number; includeTop: boolean; classes?: number; names?: 'keras' | 'legacy' },
): H5LayerSpec[] {
  const layers = kerasLayers({ alpha: opts.alpha, inputSize: opts.inputSize, includeTop: opts.includeTop, classes: opts.classes });
  return layers.map((l) => {
    const name = opts.names === 'legacy' ? legacyName(l.name) : l.name;
    return {
      name,
      weights: l.weights.map((w) => {
        const t = weightOf(weights, w.name);
        return { name: `${name}/${w.name.slice(w.name.indexOf('/') + 1)}:0`, shape: t.shape, data: t.data };
      }),
    };
  });
}

export interface TutorialModelOptions {
  alpha: number;
  inputSize: number;
  classes: number;
  /** Units of a hidden Dense(relu) layer named `dense` before the classifier (the CIFAR-10 lab). */
  hidden?: number | null;
  /** Name of the classifier Dense in the weight map (and the file): `dense`, `dense_1` with a hidden layer. */
  denseName?: string;
  /** The model has the augmentation Sequential (the tutorial's `data_augmentation`). */
  augmentation?: boolean;
}

/** Keras' name of the MobileNetV2 base model: `mobilenetv2_1.00_160`. */
export const kerasBaseModelName = (alpha: number, inputSize: number) => `mobilenetv2_${alpha.toFixed(2)}_${inputSize}`;

/**
 * The tutorial's transfer-learning model as `model.save_weights('x.h5')` writes it: the base is one
 * nested layer whose group holds every MobileNetV2 weight (in the order Keras loads them into a
 * frozen base: layer by layer, kernel / gamma, beta, moving_mean, moving_variance), then the head.
 */
export function tutorialModelLayers(weights: WeightMap, o: TutorialModelOptions): H5LayerSpec[] {
  const baseLayers = kerasLayerSpecs(weights, { alpha: o.alpha, inputSize: o.inputSize, includeTop: false });
  const dense = (name: string): H5LayerSpec => ({
    name,
    weights: ['kernel', 'bias'].map((k) => {
      const t = weightOf(weights, `${name}/${k}`);
      return { name: `${name}/${k}:0`, shape: t.shape, data: t.data };
    }),
  });
  return [
    { name: 'input_2', weights: [] },
    ...(o.augmentation ? [{ name: 'sequential', weights: [] }] : []),
    { name: 'tf.math.truediv', weights: [] },
    { name: 'tf.math.subtract', weights: [] },
    { name: kerasBaseModelName(o.alpha, o.inputSize), weights: baseLayers.flatMap((l) => l.weights) },
    { name: 'global_average_pooling2d', weights: [] },
    { name: 'dropout', weights: [] },
    ...(o.hidden ? [dense('dense')] : []),
    dense(o.denseName ?? 'dense'),
  ];
}

/** The tutorial model's weights as a Keras .h5 file (`model.load_weights` reads it). */
export function tutorialModelH5(weights: WeightMap, o: TutorialModelOptions): Promise<Uint8Array> {
  return writeKerasH5(tutorialModelLayers(weights, o));
}
