// TF.js with its WebGPU backend, in Node on our Dawn instance (`navigator.gpu` = node-gpu.ts's GPU,
// installed before the backend is imported). TF.js ships no tf.layers MobileNetV2, so the network is
// built layer by layer as Keras' applications/mobilenet_v2.py does (Conv1 'same' → BN → ReLU(6);
// inverted residual blocks with ZeroPadding2D(correct_pad) + 'valid' depthwise for stride 2; Conv_1;
// GlobalAveragePooling2D → Dense), with our weights copied in by Keras name. `model.predict` then
// `await y.data()` per run: what a TF.js user writes.
import type * as tfcore from '@tensorflow/tfjs-core';
import type * as tflayers from '@tensorflow/tfjs-layers';
import { architecture, blockPrefix, units, type BlockSpec } from '@mnv2/core';
import { describeAdapter, nodeGpu } from '../../node-gpu.js';
import { importPeer, packageVersion, type InferConfig, type Peer, type PeerRunner, type SharedModel } from './types.js';

type TF = typeof tfcore;
type TFL = typeof tflayers;
type SymbolicTensor = tflayers.SymbolicTensor;

/** Makes `navigator.gpu` our Dawn GPU (TF.js looks for it when its WebGPU backend is imported). */
function installNavigatorGpu(onAdapter: (a: GPUAdapter) => void): void {
  const gpu = nodeGpu();
  const wrapped = {
    requestAdapter: async (opts?: GPURequestAdapterOptions) => {
      const a = await gpu.requestAdapter(opts);
      if (a) onAdapter(a);
      return a;
    },
    getPreferredCanvasFormat: () => 'rgba8unorm' as GPUTextureFormat,
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
  };
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator && typeof g.navigator === 'object') {
    try {
      Object.defineProperty(g.navigator, 'gpu', { value: wrapped, configurable: true, writable: true });
      if (g.navigator.gpu === wrapped) return;
    } catch {
      /* fall through: replace navigator */
    }
  }
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: wrapped }, configurable: true, writable: true });
}

/** Keras' MobileNetV2 (include_top with logits: Dense without softmax) built with tf.layers. */
export function kerasMobileNetV2(tfl: TFL, alpha: number, size: number, classes: number): tflayers.LayersModel {
  const arch = architecture(alpha);
  const L = tfl.layers;
  const input = tfl.input({ shape: [size, size, 3], name: 'input_1' });
  const ap = (layer: tflayers.layers.Layer, x: SymbolicTensor | SymbolicTensor[]) => layer.apply(x) as SymbolicTensor;
  const bn = (name: string) => L.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
  const relu6 = (name: string) => L.reLU({ maxValue: 6, name });
  let h = size;
  let x = input;
  let inputs = x; // the current block's input, for its residual add
  let block: BlockSpec | undefined;
  for (const u of units(arch)) {
    const b = u.block;
    if (b !== block) [block, inputs] = [b, x];
    if (u.kind === 'depthwise') {
      if (u.stride === 2) {
        // Keras correct_pad: ((k//2 - adjust, k//2), ...) with adjust = 1 - size % 2
        const adjust = 1 - (h % 2);
        x = ap(L.zeroPadding2d({ padding: [[1 - adjust, 1], [1 - adjust, 1]], name: `${blockPrefix(b!.index)}_pad` }), x);
      }
      x = ap(L.depthwiseConv2d({ kernelSize: 3, strides: u.stride, useBias: false, padding: u.stride === 1 ? 'same' : 'valid', name: u.conv }), x);
    } else {
      // Keras builds Conv_1 with its default 'valid' padding (the same for 1x1).
      x = ap(L.conv2d({ filters: u.outC, kernelSize: u.kind === 'pointwise' ? 1 : 3, strides: u.stride, padding: b || u.kind === 'conv3x3' ? 'same' : 'valid', useBias: false, name: u.conv }), x);
    }
    h = Math.ceil(h / u.stride);
    x = ap(bn(u.bn), x);
    if (u.relu) x = ap(relu6(u.relu), x);
    else if (b?.residual) x = ap(L.add({ name: `${blockPrefix(b.index)}_add` }), [inputs, x]);
  }
  x = ap(L.globalAveragePooling2d({ name: 'global_average_pooling2d' }), x);
  x = ap(L.dense({ units: classes, name: 'predictions' }), x);
  return tfl.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha}_${size}` });
}

/** Copies Keras-named weights in our layouts into a tf.layers model (depthwise [3,3,C] → [3,3,C,1]). */
export function setKerasWeights(tf: TF, model: tflayers.LayersModel, weights: Map<string, Float32Array>): void {
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const key = `${layer.name}/${w.originalName.split('/').pop()}`;
      const v = weights.get(key);
      const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      if (!v || v.length !== n) throw new Error(`TF.js model: weight '${key}' [${w.shape}] has ${v ? v.length : 'no'} values, expected ${n}`);
      return tf.tensor(v, w.shape as number[]);
    });
    layer.setWeights(values);
    values.forEach((t) => t.dispose());
  }
}

export class TfjsWebGpuPeer implements Peer {
  readonly id = 'tfjs';
  readonly label = 'TF.js WebGPU';
  version = '?';
  adapter?: string;
  private tf!: TF;
  private tfl!: TFL;
  private models = new Map<number, tflayers.LayersModel>();

  async init(): Promise<void> {
    installNavigatorGpu((a) => (this.adapter = describeAdapter(a)));
    this.tf = await importPeer<TF>('@tensorflow/tfjs-core');
    await importPeer('@tensorflow/tfjs-backend-webgpu');
    this.tfl = await importPeer<TFL>('@tensorflow/tfjs-layers');
    if (!(await this.tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') failed");
    await this.tf.ready();
    this.version = `tfjs-core ${this.tf.version_core}, tfjs-backend-webgpu ${packageVersion('@tensorflow/tfjs-backend-webgpu')}, tfjs-layers ${packageVersion('@tensorflow/tfjs-layers')}`;
  }

  private model(cfg: InferConfig, weights: Map<string, Float32Array>): tflayers.LayersModel {
    let m = this.models.get(cfg.size);
    if (!m) {
      m = kerasMobileNetV2(this.tfl, cfg.alpha, cfg.size, cfg.classes);
      setKerasWeights(this.tf, m, weights);
      this.models.set(cfg.size, m);
    }
    return m;
  }

  async prepare(s: SharedModel): Promise<PeerRunner> {
    const tf = this.tf;
    const { size, batch } = s.cfg;
    const model = this.model(s.cfg, s.weights);
    return {
      run: async () => {
        const x = tf.tensor4d(s.input, [batch, size, size, 3]);
        const y = model.predict(x) as tfcore.Tensor;
        try {
          return (await y.data()) as Float32Array;
        } finally {
          x.dispose();
          y.dispose();
        }
      },
      dispose: () => {},
    };
  }

  async dispose(): Promise<void> {
    for (const m of this.models.values()) m.dispose();
    this.models.clear();
  }
}
