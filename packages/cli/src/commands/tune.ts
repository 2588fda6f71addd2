// `mnv2 tune`: measures which matmul variant is fastest on this adapter for the products MobileNetV2
// really runs (recorded from an inference pass and a whole-network training step at the given size
// and batch), and stores the choice per adapter; every later command's engine uses it.
import { adapterKey, tuneNetworkMatmuls, type TunedMatmul } from '@mnv2/core';
import { matmulTileKey } from '@mnv2/kernels';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { saveTuning } from '../tuning-file.js';

const HELP = `mnv2 tune [--image-size 224] [--batch-size 8] [--alpha 1.0] [--budget 30] [--reps 3]

Times a few variants (block shapes; subgroup forms where the adapter has 8-lane subgroups) of every
matrix product MobileNetV2 runs at this size and batch (inference and a training step: pointwise
convolutions forward and backward, the dense head) and keeps the fastest per product for this
adapter, in a JSON file in the cache ($MNV2_TUNING_DIR, else ~/.cache/mnv2/tuning). Every command
then uses it (see 'mnv2 doctor'); MNV2_TUNING=off ignores it. Without it a built-in heuristic
(measured on lavapipe) decides. Results do not change beyond float rounding, only speed.
The first train, classify, predict or evaluate on an adapter without a file already does this for
the network it runs (MNV2_TUNING=auto, the default): run 'mnv2 tune' for other sizes and batches,
or to measure again (it replaces the file).

Options:
  --image-size S   input size whose products are tuned (default 224)
  --batch-size B   batch whose products are tuned (default 8)
  --alpha A        MobileNetV2 width (default 1.0)
  --budget SEC     stop starting new products after this many seconds (default 30; the largest
                   products go first, the rest keep the heuristic)
  --reps N         timed runs per variant after a warm-up (default 3)

Example:
  mnv2 tune --image-size 160 --batch-size 32`;

export async function tune(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const C = 'tune';
  const args = parseArgs(argv, { values: ['image-size', 'batch-size', 'alpha', 'budget', 'reps'], booleans: [] }, C);
  const size = numberFlag(args, 'image-size', 224, C);
  const batch = numberFlag(args, 'batch-size', 8, C);
  const alpha = numberFlag(args, 'alpha', 1.0, C);
  const budget = numberFlag(args, 'budget', 30, C);
  const reps = numberFlag(args, 'reps', 3, C);
  for (const [name, v, min] of [['image-size', size, 32], ['batch-size', batch, 1], ['reps', reps, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`tune: --${name} must be an integer >= ${min}, got ${v}`);
  }
  if (!(budget > 0)) throw new Error(`tune: --budget must be > 0 seconds, got ${budget}`);

  const { engine: e, adapter } = await createNodeEngine();
  console.log(`[mnv2] adapter: ${describeAdapter(adapter)}`);
  console.log(`Tuning the matrix products of MobileNetV2 ${alpha} at ${size}x${size}, batch ${batch} (inference and a training step; budget ${budget} s):`);
  const rows: [string, TunedMatmul][] = [];
  const t0 = Date.now();
  const { tuning, shapes } = await tuneNetworkMatmuls(e, {
    alpha,
    inputSize: size,
    batch,
    budgetMs: budget * 1000,
    reps,
    onShape: (done, total, key, t) => {
      rows.push([key, t]);
      const gain = t.defaultMs / t.ms;
      console.log(`  ${String(done).padStart(3)}/${total} ${key.padEnd(18)} heuristic ${t.defaultMs.toFixed(2).padStart(8)} ms  best ${t.ms.toFixed(2).padStart(8)} ms (${matmulTileKey(t.tile)}${t.splitK > 1 ? ` split-K ${t.splitK}` : ''})${gain > 1.05 ? `  ${gain.toFixed(2)}x` : ''}`);
    },
  });
  const sumDefault = rows.reduce((a, [, t]) => a + t.defaultMs, 0);
  const sumBest = rows.reduce((a, [, t]) => a + t.ms, 0);
  const file = await saveTuning(e, tuning);
  console.log(
    `Tuned ${rows.length} of ${shapes.length} products in ${((Date.now() - t0) / 1000).toFixed(1)} s: their sum ${sumDefault.toFixed(1)} ms with the heuristic, ${sumBest.toFixed(1)} ms tuned (${(sumDefault / Math.max(sumBest, 1e-9)).toFixed(2)}x).`,
  );
  console.log(`Saved for '${adapterKey(e)}' in ${file}`);
  e.destroy();
  return 0;
}
