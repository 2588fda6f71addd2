// Writes .h5 files in Keras 2's exact weight layout (what `model.save_weights('x.h5')` and
// `model.save('x.h5')` produce, and so the published MobileNetV2 files), with h5wasm:
//   root (or `model_weights/` in a full-model file, beside root attrs model_config/keras_version/backend)
//     attrs layer_names (fixed-length byte strings, model order), backend, keras_version
//     group per layer, created in name order (Keras sorts them), with attr weight_names (byte strings,
//     an empty float64 array for layers without weights) and float32 datasets at <layer>/<weight_name>
//     (`Conv1/Conv1/kernel:0`: the weight name's `/` makes a nested group).
// Like h5py's default, the file uses the earliest format (superblock version 0).
import h5wasm, { Group } from 'h5wasm';
import { kerasLayers, kerasWeightsFileName, type WeightMap } from '@mnv2/core';
import { rng } from '../helpers/random.js';

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
  /** Leave these dataset paths (`<layer>/<weight_name>`) out while still listing them in weight_names. */
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

export async function writeKerasH5(layers: H5LayerSpec[], opts: WriteKerasH5Options = {}): Promise<Uint8Array> {
  const { FS } = await h5wasm.ready;
  const path = `/fixture-${process.pid}-${++seq}.h5`;
  const f = new h5wasm.File(path, 'w', { libver: ['earliest', 'latest'] });
  try {
    const version = opts.kerasVersion ?? '2.1.6';
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
          parent = existing instanceof Group ? existing : parent.create_group(p);
        }
        parent.create_dataset({ name: parts[parts.length - 1], data: w.data, shape: w.shape, dtype: w.dtype ?? '<f' });
      }
    }
  } finally {
    f.close();
  }
  const bytes = FS!.readFile(path) as Uint8Array;
  FS!.unlink(path);
  return new Uint8Array(bytes);
}

/**
 * The layers of Keras' MobileNetV2 (every layer, weights or not) filled from a weight map with Keras
 * names. `names: 'legacy'` uses the layer names of the published files (the original Keras port:
 * `mobl1_conv_1_expand`, `bn1_conv_1_bn_expand`, `Logits`, …), whose Keras loads by order.
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
        const t = weights.get(w.name);
        if (!t) throw new Error(`kerasLayerSpecs: the weight map has no ${w.name}`);
        return { name: `${name}/${w.name.slice(w.name.indexOf('/') + 1)}:0`, shape: t.shape, data: t.data };
      }),
    };
  });
}

/** The original port's layer name for a Keras MobileNetV2 layer name. */
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

/** Random weights for Keras' MobileNetV2 (seeded; BN variances positive). */
export function randomKerasWeights(alpha: number, includeTop: boolean, classes = 1000, seed = 1): WeightMap {
  const r = rng(seed);
  const m: WeightMap = new Map();
  for (const l of kerasLayers({ alpha, inputSize: 224, includeTop, classes })) {
    for (const w of l.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      const variance = w.name.endsWith('moving_variance');
      for (let i = 0; i < n; i++) data[i] = variance ? 0.5 + r() : r() * 2 - 1;
      m.set(w.name, { shape: [...w.shape], data });
    }
  }
  return m;
}

export interface KerasFixture {
  bytes: Uint8Array;
  weights: WeightMap;
  fileName: string;
}

/** A small published-style file: alpha 0.35, size 96, no top by default, legacy names optional. */
export async function kerasFixture(
  opts: { alpha?: number; size?: number; includeTop?: boolean; classes?: number; seed?: number; names?: 'keras' | 'legacy' } & WriteKerasH5Options = {},
): Promise<KerasFixture> {
  const alpha = opts.alpha ?? 0.35;
  const size = opts.size ?? 96;
  const includeTop = opts.includeTop ?? false;
  const weights = randomKerasWeights(alpha, includeTop, opts.classes ?? 1000, opts.seed ?? 1);
  const layers = kerasLayerSpecs(weights, { alpha, inputSize: size, includeTop, classes: opts.classes, names: opts.names });
  const bytes = await writeKerasH5(layers, { inputSize: size, ...opts });
  return { bytes, weights, fileName: kerasWeightsFileName(alpha, size, includeTop) };
}
