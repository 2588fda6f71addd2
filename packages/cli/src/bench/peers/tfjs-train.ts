// TF.js WebGPU training peer for `mnv2 bench train`: the tf.layers MobileNetV2 of tfjs.ts (built like
// Keras' mobilenet_v2.py, our weights copied in by Keras name) with a Dense(1) logits head, compiled
// with Adam and sigmoid binary cross-entropy from logits; one step = `model.trainOnBatch(x, y)` (input
// uploaded every step, awaited until the loss is on the host): what a TF.js user writes.
// Trainability follows Keras: frozen = every base layer trainable=false (TF.js still runs its BN
// layers in training mode: batch statistics, moving averages updated), fine-tune = layers[at:],
// full = all. Changing trainable needs a recompile (new Adam).
import type * as tfcore from '@tensorflow/tfjs-core';
import type * as tflayers from '@tensorflow/tfjs-layers';
import { importPeer } from './types.js';
import { kerasMobileNetV2, setKerasWeights, TfjsWebGpuPeer } from './tfjs.js';

type TF = typeof tfcore;
type TFL = typeof tflayers;

export type TrainMode = 'frozen' | 'fine-tune' | 'full';

export class TfjsTrainPeer {
  readonly label = 'TF.js WebGPU';
  version = '?';
  adapter?: string;
  private base = new TfjsWebGpuPeer();
  private tf!: TF;
  private tfl!: TFL;
  private model: tflayers.LayersModel | null = null;
  /** Number of base layers (InputLayer .. out_relu), the rest is the head. */
  private baseLayers = 0;

  async init(): Promise<void> {
    await this.base.init(); // installs navigator.gpu (our Dawn), loads the WebGPU backend
    this.version = this.base.version;
    this.adapter = this.base.adapter;
    this.tf = await importPeer<TF>('@tensorflow/tfjs-core');
    this.tfl = await importPeer<TFL>('@tensorflow/tfjs-layers');
  }

  /** Builds the network (alpha 1.0, Dense(1) head named 'predictions') with the given weights. */
  build(size: number, weights: Map<string, Float32Array>): void {
    this.model?.dispose();
    const m = kerasMobileNetV2(this.tfl, 1.0, size, 1);
    setKerasWeights(this.tf, m, weights);
    this.model = m;
    this.baseLayers = m.layers.findIndex((l) => l.name === 'out_relu') + 1;
    if (this.baseLayers <= 0) throw new Error('TF.js model: no out_relu layer');
  }

  /** Sets trainability like Keras and recompiles (Adam 1e-3, sigmoid cross-entropy from logits). */
  setMode(mode: TrainMode, fineTuneAt = 100): { trainableWeights: number } {
    const m = this.model;
    if (!m) throw new Error('TF.js model not built');
    const tf = this.tf;
    m.layers.forEach((l, i) => {
      if (i >= this.baseLayers) l.trainable = true;
      else l.trainable = mode === 'full' ? true : mode === 'fine-tune' ? i >= fineTuneAt : false;
    });
    m.compile({
      optimizer: tf.train.adam(0.001, 0.9, 0.999, 1e-7),
      loss: (yTrue: tfcore.Tensor, yPred: tfcore.Tensor) => tf.losses.sigmoidCrossEntropy(yTrue, yPred),
    });
    return { trainableWeights: m.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0) };
  }

  /** One training step on the batch; resolves with the loss (on the host). */
  async step(input: Float32Array, labels: Float32Array, size: number): Promise<number> {
    const m = this.model;
    if (!m) throw new Error('TF.js model not built');
    const n = labels.length;
    const x = this.tf.tensor4d(input, [n, size, size, 3]);
    const y = this.tf.tensor2d(labels, [n, 1]);
    try {
      const r = await m.trainOnBatch(x, y);
      return Array.isArray(r) ? r[0] : r;
    } finally {
      x.dispose();
      y.dispose();
    }
  }

  async dispose(): Promise<void> {
    this.model?.dispose();
    this.model = null;
    await this.base.dispose();
  }
}
