// ONNX Runtime (onnxruntime-node) with its WebGPU execution provider (its own Dawn inside the native
// library) or its CPU provider. The model is our network exported by core's onnx-writer.ts (BatchNorm folded
// into the convs, as tf2onnx does; NCHW input; fixed batch), with our weights. Each run feeds a host
// tensor and gets the logits back on the host: what an ONNX Runtime user writes.
import type * as ortTypes from 'onnxruntime-node';
import { encodeOnnxModel, mobileNetV2Onnx } from '@mnv2/core';
import { importPeer, nhwcToNchw, packageVersion, type Peer, type PeerRunner, type SharedModel } from './types.js';

type ORT = typeof ortTypes;

export class OrtPeer implements Peer {
  readonly id: string;
  readonly label: string;
  version = '?';
  adapter?: string;
  private ort!: ORT;

  constructor(private readonly ep: 'webgpu' | 'cpu') {
    this.id = `ort-${ep}`;
    this.label = ep === 'webgpu' ? 'ONNX Runtime WebGPU' : 'ONNX Runtime CPU';
  }

  async init(): Promise<void> {
    this.ort = await importPeer<ORT>('onnxruntime-node');
    const backends = (this.ort as unknown as { listSupportedBackends?: () => { name: string }[] }).listSupportedBackends?.();
    if (backends && !backends.some((b) => b.name === this.ep)) {
      throw new Error(`onnxruntime-node on this platform has no '${this.ep}' provider (has: ${backends.map((b) => b.name).join(', ')})`);
    }
    this.version = `onnxruntime-node ${this.ort.env.versions.node ?? packageVersion('onnxruntime-node')}`;
    this.adapter =
      this.ep === 'webgpu'
        ? "ONNX Runtime's built-in Dawn on Vulkan (the system's Vulkan driver, VK_ICD_FILENAMES applies; it names no adapter)"
        : 'CPU provider, intra-op threads: ORT default (one per physical core)';
  }

  async prepare(s: SharedModel): Promise<PeerRunner> {
    const ort = this.ort;
    const { alpha, size, batch, classes } = s.cfg;
    const graph = mobileNetV2Onnx({ alpha, inputSize: size, batch, weight: (n) => s.weights.get(n)!, head: { classes }, foldBatchNorm: true });
    const bytes = encodeOnnxModel(graph, { producerName: 'mnv2 bench infer' });
    const session = await ort.InferenceSession.create(bytes, { executionProviders: [this.ep], graphOptimizationLevel: 'all' });
    const input = nhwcToNchw(s.input, batch, size, size, 3);
    const dims = [batch, 3, size, size];
    const inName = session.inputNames[0];
    const outName = session.outputNames[0];
    return {
      run: async () => {
        const out = await session.run({ [inName]: new ort.Tensor('float32', input, dims) });
        const y = out[outName];
        try {
          return y.data as Float32Array;
        } finally {
          for (const t of Object.values(out)) if (t !== y) t.dispose();
        }
      },
      dispose: () => session.release(),
    };
  }

  async dispose(): Promise<void> {}
}
