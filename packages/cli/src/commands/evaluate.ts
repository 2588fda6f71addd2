// `mnv2 evaluate <run-dir> <data-dir>`: Keras `model.evaluate` of a trained run on every image of a
// folder-per-class dataset: mean loss (the run's loss: sigmoid or softmax cross-entropy) and accuracy.
import { ImageBatches, accuracy, lossAndGrad } from '@mnv2/core';
import { resolve } from 'node:path';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { openDataset } from '../data/open-dataset.js';
import { buildRunNet, readRun } from '../run/load-run.js';

const HELP = `mnv2 evaluate <run-dir> <data> [--batch-size 32] [--json]

Loss and accuracy of a trained run (the --out folder of 'mnv2 train') on every image of <data>:
a folder with one sub-folder per class, a 'path,label' list file, or a CIFAR-10 binary folder
(as 'mnv2 train' takes). Its classes must be the run's classes.

Options:
  --batch-size B   images per GPU batch (default 32)
  --json           one JSON document on stdout

Example:
  mnv2 evaluate mnv2-run ../shared/datasets/alpaca/dataset`;

export async function evaluate(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const C = 'evaluate';
  const args = parseArgs(argv, { values: ['batch-size'], booleans: ['json'] }, C);
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

  const { engine: e, adapter } = await createNodeEngine();
  console.error(`[mnv2] adapter: ${describeAdapter(adapter)}`);
  const net = buildRunNet(e, run);
  const src = ds.train;
  const data = new ImageBatches(e, src, { imageSize: run.imageSize, cacheBudgetBytes: 0 });
  const ids = Array.from({ length: ds.trainCount }, (_, i) => i);
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  const t0 = Date.now();
  const slice = (s: number) => ids.slice(s * batchSize, (s + 1) * batchSize);
  const steps = Math.ceil(ids.length / batchSize);
  let pre = data.prefetch(slice(0));
  for (let s = 0; s < steps; s++) {
    const b = await data.batch(slice(s), pre);
    pre = s + 1 < steps ? data.prefetch(slice(s + 1)) : null;
    if (b.labels.length === 0) {
      b.x.dispose();
      continue;
    }
    const y = run.labelMode === 'binary' ? e.upload(Float32Array.from(b.labels), [b.labels.length], 'f32') : e.upload(Int32Array.from(b.labels), [b.labels.length], 'i32');
    const r = e.tidy(() => {
      const logits = net.forward(e, b.x, { training: false });
      const { loss } = lossAndGrad(e, run.labelMode, logits, y);
      return { loss, correct: accuracy(e, logits, y) };
    });
    lossSum += (await r.loss.read())[0] * b.labels.length;
    correct += (await r.correct.read())[0];
    n += b.labels.length;
    r.loss.dispose();
    r.correct.dispose();
    b.x.dispose();
    y.dispose();
    if (process.stderr.isTTY) process.stderr.write(`\r  ${s + 1}/${steps} steps   ${s + 1 === steps ? '\n' : ''}`);
  }
  data.dispose();
  e.destroy();
  if (n === 0) throw new Error(`evaluate: none of the ${ds.trainCount} images of '${dataDir}' could be decoded`);
  const loss = lossSum / n;
  const acc = correct / n;
  const seconds = (Date.now() - t0) / 1000;
  if (json) {
    process.stdout.write(`${JSON.stringify({ run: run.dir, data: dataDir, classNames: run.classNames, labelMode: run.labelMode, images: n, skipped: bad, loss, accuracy: acc, seconds }, null, 2)}\n`);
  } else {
    console.log(`${steps}/${steps} - ${seconds.toFixed(1)}s - loss: ${loss.toFixed(4)} - accuracy: ${acc.toFixed(4)}`);
    if (bad.length) console.log(`Skipped ${bad.length} file${bad.length > 1 ? 's' : ''} that could not be decoded (listed above).`);
  }
  return 0;
}
