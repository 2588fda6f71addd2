// The activation-memory figures of bench/results/f16-lavapipe.md: the engine pool's peak bytes above
// what weights and input already hold, for one inference forward and one training step, at f32 and at
// f16, each in a fresh engine (random weights: memory does not depend on them).
//   npx turbo run build && npx tsx bench/f16-memory.mts
import { createNodeEngine } from '../packages/cli/src/node-gpu.js';
import { MobileNetV2Net, softmaxCrossEntropy } from '@mnv2/core';

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
for (const [what, size, batch, training] of [['inference 224 b8', 224, 8, false], ['inference 224 b32', 224, 32, false], ['training step 160 b8 (fine-tune from 120, frozen BN)', 160, 8, true]] as const) {
  const row: string[] = [];
  for (const precision of ['f32', 'f16'] as const) {
    const { engine: e } = await createNodeEngine({ precision });
    const net = new MobileNetV2Net(e, { alpha: 1, inputSize: size, head: { classes: training ? 2 : 1000, pooling: 'avg', dropout: 0.2 }, seed: 1 });
    const x = e.upload(new Float32Array(batch * size * size * 3).map((_, i) => Math.sin(i)), [batch, size, size, 3]);
    const labels = e.upload(Int32Array.from({ length: batch }, (_, i) => i % 2), [batch]);
    if (training) net.setBaseTrainable(120);
    await e.sync();
    const before = e.pool.allocatedBytes;
    e.pool.peakBytes = before;
    if (!training) {
      const y = e.tidy(() => net.forward(e, x, { training: false }));
      await y.read();
      y.dispose();
    } else {
      const r = e.tidy(() => {
        const logits = net.forward(e, x, { training: true, bnInference: true, seed: 1 });
        const { loss, dlogits } = softmaxCrossEntropy(e, logits, labels);
        net.backward(e, dlogits);
        return loss;
      });
      await r.read();
    }
    row.push(`${precision} ${mib(e.pool.peakBytes - before)} MiB (weights+input ${mib(before)}${e.paging.pagedOps ? `; ${e.paging.pagedOps} ops in pages` : ''})`);
    e.destroy();
  }
  console.log(`${what}: ${row.join('; ')}`);
}
process.exit(0);
