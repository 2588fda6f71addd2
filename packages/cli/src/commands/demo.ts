// `mnv2 demo`: runs a MobileNetV2-shaped network (random weights) through inference, a frozen-base
// training step and a full training step, and prints timings per phase. Shows what the engine can
// do before the pretrained-model commands exist.
import { MobileNetV2Net, adam, pagingSummary, trainStep, type Engine } from '@mnv2/core';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { randomInput } from '../bench/side-by-side.js';

const HELP = `mnv2 demo [--alpha 1.0] [--size 224] [--batch 1] [--steps 3] [--classes 10]

Builds MobileNetV2 (random weights, Keras architecture), then times:
  1. inference (BN folded, ReLU6 fused: one kernel per conv),
  2. a training step with the base frozen (Keras' transfer-learning setup: only the head trains),
  3. a training step of the whole network (BatchNorm in training mode),
each as the median of --steps runs after one warm-up. Expect ~100x slower on a software adapter.
Any batch runs: activations larger than the adapter's per-buffer binding limit (128 MiB on
software adapters; 224x224 at batch 32 has a 147 MiB one) are split along the batch, exactly.`;

async function timeIt(label: string, steps: number, fn: () => Promise<void>): Promise<number> {
  await fn(); // warm-up: pipeline compilation
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`  ${label.padEnd(34)} ${median.toFixed(1).padStart(9)} ms`);
  return median;
}

export async function demo(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['alpha', 'size', 'batch', 'steps', 'classes'], booleans: [] }, 'demo');
  const alpha = numberFlag(args, 'alpha', 1.0, 'demo');
  const size = numberFlag(args, 'size', 224, 'demo');
  const batch = numberFlag(args, 'batch', 1, 'demo');
  const steps = numberFlag(args, 'steps', 3, 'demo');
  const classes = numberFlag(args, 'classes', 10, 'demo');

  const { engine: e, adapter } = await createNodeEngine();
  console.log(`[mnv2] adapter: ${describeAdapter(adapter)}`);
  const net = new MobileNetV2Net(e, { alpha, inputSize: size, head: { classes, pooling: 'avg', dropout: 0.2 } });
  const nParams = net.params().reduce((s, p) => s + p.value.size, 0);
  console.log(`[mnv2] MobileNetV2 alpha ${alpha} input ${size}x${size} batch ${batch}: ${nParams.toLocaleString('en-US')} weights`);
  const x = e.upload(randomInput(batch * size * size * 3, 1), [batch, size, size, 3]);
  const labels = e.upload(Int32Array.from({ length: batch }, (_, i) => i % classes), [batch], 'i32');
  const opt = adam({ learningRate: 1e-3 });

  const infer = async (en: Engine) => {
    const y = en.tidy(() => net.forward(en, x, { training: false }));
    await y.read();
    y.dispose();
  };
  const step = (bnInference: boolean) => async () => {
    const r = trainStep(e, net, opt, x, labels, { loss: 'sparse-categorical', seed: 1, bnInference });
    await r.loss.read();
    r.loss.dispose();
    r.correct.dispose();
  };

  const ms = await timeIt('inference', steps, () => infer(e));
  net.setBaseTrainable(false);
  const frozen = await timeIt('train step, base frozen', steps, step(true));
  net.setBaseTrainable(true);
  const full = await timeIt('train step, whole network', steps, step(false));
  console.log(`  (${(batch / (ms / 1000)).toFixed(2)} images/s inference; frozen step ${(frozen / ms).toFixed(1)}x and full step ${(full / ms).toFixed(1)}x an inference)`);
  console.log(`  ${e.dispatchCount} dispatches recorded in total; peak device memory ${(e.pool.peakBytes / 2 ** 20).toFixed(0)} MiB`);
  const paging = pagingSummary(e);
  if (paging) console.log(`  ${paging}`);
  e.destroy();
  return 0;
}
