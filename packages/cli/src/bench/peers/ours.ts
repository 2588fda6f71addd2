// Our engine: MobileNetV2Net's inference path (BN folded, ReLU6 fused: one kernel per conv, one
// submit per forward), input written and logits read back on every run.
import { MobileNetV2Net, type Engine, type Precision, type Tensor } from '@mnv2/core';
import type { InferConfig, Peer, PeerRunner, SharedModel } from './types.js';

export class OursPeer implements Peer {
  readonly id: string;
  readonly label: string;
  version: string;
  adapter?: string;
  private nets = new Map<number, MobileNetV2Net>();

  constructor(
    private readonly e: Engine,
    adapter: string,
    version: string,
    /** Activation storage; 'f16' next to an f32 'ours' is the peer 'ours-f16' (same weights, same input). */
    private readonly precision: Precision = e.precision,
    second = false,
  ) {
    this.id = second ? `ours-${precision}` : 'ours';
    this.label = second || precision !== 'f32' ? `mnv2 (ours, ${precision})` : 'mnv2 (ours)';
    this.adapter = adapter;
    this.version = version;
  }

  async init(): Promise<void> {}

  /** The network for a size (random Glorot weights, same seed for every size: same weights). */
  net(cfg: InferConfig): MobileNetV2Net {
    let n = this.nets.get(cfg.size);
    if (!n) {
      n = new MobileNetV2Net(this.e, { alpha: cfg.alpha, inputSize: cfg.size, head: { classes: cfg.classes, pooling: 'avg', dropout: 0 }, seed: 1, precision: this.precision });
      this.nets.set(cfg.size, n);
    }
    return n;
  }

  /** Reads the weights back (the other peers get exactly these). */
  async weights(cfg: InferConfig): Promise<Map<string, Float32Array>> {
    const m = new Map<string, Float32Array>();
    for (const p of this.net(cfg).params()) m.set(p.name, await p.value.read());
    return m;
  }

  async prepare(m: SharedModel): Promise<PeerRunner> {
    const { size, batch } = m.cfg;
    const e = this.e;
    const net = this.net(m.cfg);
    const x: Tensor = e.upload(m.input, [batch, size, size, 3]);
    return {
      run: async () => {
        e.write(x, m.input);
        const y = e.tidy(() => net.forward(e, x, { training: false }));
        try {
          return await y.read();
        } finally {
          y.dispose();
        }
      },
      dispose: () => x.dispose(),
    };
  }

  async dispose(): Promise<void> {
    for (const n of this.nets.values()) n.dispose();
    this.nets.clear();
  }
}
