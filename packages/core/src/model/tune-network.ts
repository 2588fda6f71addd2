// The products MobileNetV2 runs, tuned (see ops/matmul/tuning.ts): what `mnv2 tune` and the
// browser's `tune()` call. Here, not beside the tuner, because it builds the network (nn/ imports
// the matmul ops).
import type { Engine } from '../gpu/engine.js';
import { MobileNetV2Net } from '../nn/mobilenet-v2.js';
import { sgd } from '../ops/optim/index.js';
import { recordMatmulShapes, tuneMatmul, type MatmulDims, type MatmulTuning, type TuneOptions } from '../ops/matmul/index.js';
import { trainStep } from '../train/step.js';

/** Options of {@link tuneNetworkMatmuls}: the network whose products are tuned, and the tuner's. */
export interface TuneNetworkOptions extends TuneOptions {
  alpha?: number;
  inputSize: number;
  batch: number;
}

/**
 * Records the products MobileNetV2 runs at this size and batch (an inference pass and a whole-network
 * training step, random weights) and tunes them: what `mnv2 tune` and the browser's `tune()` do.
 */
export async function tuneNetworkMatmuls(e: Engine, o: TuneNetworkOptions): Promise<{ tuning: MatmulTuning; shapes: MatmulDims[] }> {
  const { inputSize: S, batch: B } = o;
  const net = new MobileNetV2Net(e, { alpha: o.alpha ?? 1.0, inputSize: S, head: { classes: 2, pooling: 'avg', dropout: 0 }, seed: 1 });
  const x = e.upload(new Float32Array(B * S * S * 3).fill(0.1), [B, S, S, 3]);
  const y = e.upload(Int32Array.from({ length: B }, (_, i) => i % 2), [B], 'i32');
  const opt = sgd({ learningRate: 0 });
  try {
    const shapes = await recordMatmulShapes(e, async () => {
      e.tidy(() => net.forward(e, x, { training: false }));
      net.setBaseTrainable(true);
      const r = trainStep(e, net, opt, x, y, { loss: 'sparse-categorical', seed: 1, bnInference: true });
      await r.loss.read();
      r.loss.dispose();
      r.correct.dispose();
    });
    return { tuning: await tuneMatmul(e, shapes, o), shapes };
  } finally {
    x.dispose();
    y.dispose();
    opt.dispose();
    net.dispose();
  }
}
