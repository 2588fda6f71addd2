// `mnv2 evaluate <run-dir> <data-dir>`: Keras `model.evaluate` of a trained run on every image of a
// folder-per-class dataset: mean loss (the run's loss: sigmoid or softmax cross-entropy) and accuracy.
import { CacheBudget, ImageDataset } from '@mnv2/core';
import { resolve } from 'node:path';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { tuneOnFirstUse } from '../tuning-file.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { precisionFlag } from '../util/precision.js';
import { openDataset } from '../data/open-dataset.js';
import { buildRunModel, readRun } from '../run/load-run.js';

const HELP = `mnv2 evaluate <run-dir> <data> [--batch-size 32] [--precision f32|f16] [--json]

Loss and accuracy of a trained run (the --out folder of 'mnv2 train') on every image of <data>:
a folder with one sub-folder per class, a 'path,label' list file, or a CIFAR-10 binary folder
(as 'mnv2 train' takes). Its classes must be the run's classes.

Options:
  --batch-size B   images per GPU batch (default 32)
  --precision P    f32 (default) or f16: activations stored as f16 (needs 'shader-f16')
  --json           one JSON document on stdout

Example:
  mnv2 evaluate mnv2-run ../shared/datasets/alpaca/dataset`;

export async function evaluate(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const C = 'evaluate';
  const args = parseArgs(argv, { values: ['batch-size', 'precision'], booleans: ['json'] }, C);
  const precision = precisionFlag(args, C);
  if (args.positionals.length !== 2) throw new Error(`evaluate: expected <run-dir> <data-dir>, got ${args.positionals.length} argument${args.positionals.length === 1 ? '' : 's'} (see 'mnv2 evaluate --help')`);
  const batchSize = numberFlag(args, 'batch-size', 32, C);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`evaluate: --batch-size must be a positive integer, got ${batchSize}`);
  const json = args.flags.has('json');
  const run = await readRun(args.positionals[0], C);
  const dataDir = resolve(args.positionals[1]);
  const bad: string[] = [];
  const ds = await openDataset(dataDir, {
    validationSplit: 0,
    seed: 0,
    all: true,
    onBad: (b) => {
      bad.push(b.path);
      console.error(`[mnv2] skipping ${b.reason}`);
    },
  });
  const found = ds.classNames;
  const same = found.length === run.classNames.length && found.every((c, i) => c === run.classNames[i]);
  if (!same) {
    const missing = run.classNames.filter((c) => !found.includes(c));
    const extra = found.filter((c) => !run.classNames.includes(c));
    throw new Error(
      `evaluate: the classes of '${dataDir}' (${found.map((c) => `'${c}'`).join(', ') || 'none'}) do not match the run's classes (${run.classNames.map((c) => `'${c}'`).join(', ')})` +
        `${missing.length ? `; missing: ${missing.map((c) => `'${c}'`).join(', ')}` : ''}${extra.length ? `; unknown: ${extra.map((c) => `'${c}'`).join(', ')}` : ''}`,
    );
  }
  const log = json ? console.error : console.log;
  log(`Found ${ds.trainCount} ${ds.kind === 'cifar10' ? 'images' : 'files'} belonging to ${ds.classNames.length} classes.`);

  const { engine: e, adapter } = await createNodeEngine({ precision });
  console.error(`[mnv2] adapter: ${describeAdapter(adapter)}`);
  await tuneOnFirstUse(e, { alpha: run.alpha, inputSize: run.imageSize, batch: batchSize, log: (s) => console.error(s) });
  const model = buildRunModel(e, run);
  // One pass: nothing to cache. Images stream (decoded a batch ahead), memory flat in the folder's size.
  const data = new ImageDataset(ds.train, { batchSize, classNames: ds.classNames, imageSize: [run.imageSize, run.imageSize], name: dataDir, cacheBudget: new CacheBudget(0) });
  const t0 = Date.now();
  const r = await model.evaluate(data);
  const seconds = (Date.now() - t0) / 1000;
  data.dispose();
  model.dispose();
  e.destroy();
  if (r.samples === 0) throw new Error(`evaluate: none of the ${ds.trainCount} images of '${dataDir}' could be decoded`);
  const { loss, accuracy: acc } = r;
  const steps = Math.ceil(r.samples / batchSize);
  const n = r.samples;
  if (json) {
    process.stdout.write(`${JSON.stringify({ run: run.dir, data: dataDir, classNames: run.classNames, labelMode: run.labelMode, images: n, skipped: bad, loss, accuracy: acc, seconds }, null, 2)}\n`);
  } else {
    console.log(`${steps}/${steps} - ${seconds.toFixed(1)}s - loss: ${loss.toFixed(4)} - accuracy: ${acc.toFixed(4)}`);
    if (bad.length) console.log(`Skipped ${bad.length} file${bad.length > 1 ? 's' : ''} that could not be decoded (listed above).`);
  }
  return 0;
}
