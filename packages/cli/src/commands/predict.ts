// `mnv2 predict <run-dir> <image or folder>…`: the class and its probability for each image, with a
// trained run's model (binary head: sigmoid; more classes: softmax). Same preprocessing as training.
import type { FitImage, ImageSplitSource } from '@mnv2/core';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { tuneOnFirstUse } from '../tuning-file.js';
import { JsonStreamWriter } from '../util/json-stream.js';
import { writeStatsFile } from '../util/stats-file.js';
import { decodeImage } from '../data/decode.js';
import { expandImageInputs } from '../data/image-inputs.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { precisionFlag } from '../util/precision.js';
import { buildRunModel, probabilities, readRun } from '../run/load-run.js';

const HELP = `mnv2 predict <run-dir> <image or folder>… [--batch-size 32] [--precision f32|f16] [--json]

The predicted class and its probability for each image, with a trained run (the --out folder of
'mnv2 train'). A folder means every image in it, in name order. Two classes: sigmoid of the single
output (P(second class)); more: softmax.

Options:
  --batch-size B   images per GPU batch (default 32)
  --precision P    f32 (default) or f16: activations stored as f16 (needs 'shader-f16')
  --json           one JSON document on stdout (every class's probability per image)

Example:
  mnv2 predict mnv2-run photo.jpg photos/`;

export async function predict(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const C = 'predict';
  const args = parseArgs(argv, { values: ['batch-size', 'precision'], booleans: ['json'] }, C);
  const precision = precisionFlag(args, C);
  if (args.positionals.length < 2) throw new Error(`predict: expected <run-dir> and at least one image or folder (see 'mnv2 predict --help')`);
  const batchSize = numberFlag(args, 'batch-size', 32, C);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`predict: --batch-size must be a positive integer, got ${batchSize}`);
  const json = args.flags.has('json');
  const run = await readRun(args.positionals[0], C);
  const files = await expandImageInputs(args.positionals.slice(1), 'predict');

  const errors: { file: string; error: string }[] = [];
  const source: ImageSplitSource = {
    labels: files.map(() => 0),
    load: (indices) =>
      Promise.all(
        indices.map(async (i): Promise<FitImage | null> => {
          try {
            const img = await decodeImage(files[i]);
            return { width: img.width, height: img.height, rgb: img.rgb };
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            errors.push({ file: files[i], error });
            console.error(`mnv2: ${error}`);
            return null;
          }
        }),
      ),
  };
  const t0 = Date.now();
  const { engine: e, adapter } = await createNodeEngine({ precision });
  console.error(`[mnv2] adapter: ${describeAdapter(adapter)}`);
  await tuneOnFirstUse(e, { alpha: run.alpha, inputSize: run.imageSize, batch: batchSize, log: (s) => console.error(s) });
  const model = buildRunModel(e, run);
  // --json streams one document: results are written as their batch finishes (any folder size).
  const out = json ? new JsonStreamWriter() : null;
  await out?.begin({ run: run.dir, classNames: run.classNames, labelMode: run.labelMode }, 'results');
  const ids = files.map((_, i) => i);
  const steps = Math.ceil(ids.length / batchSize);
  const slice = (s: number) => ids.slice(s * batchSize, (s + 1) * batchSize);
  let pre = source.load(slice(0)); // decode the next batch while the GPU runs this one
  for (let s = 0; s < steps; s++) {
    const bi = slice(s);
    const imgs = await pre;
    if (s + 1 < steps) pre = source.load(slice(s + 1));
    const kept = bi.filter((_, k) => imgs[k] !== null);
    if (kept.length === 0) continue;
    const logits = await model.predict(imgs.filter((x): x is FitImage => x !== null)); // linear head: logits
    const probs = probabilities(Float32Array.from(logits.flat()), kept.length, run.classes, run.labelMode === 'binary');
    for (const [k, i] of kept.entries()) {
      const p = probs[k];
      let best = 0;
      for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
      const r = { file: files[i], class: run.classNames[best], index: best, probability: p[best], probabilities: Object.fromEntries(run.classNames.map((c, j) => [c, p[j]])) };
      if (out) await out.item(r);
      else console.log(`${r.file}: ${r.class} (${(100 * r.probability).toFixed(2)}%)`);
    }
  }
  model.dispose();
  await writeStatsFile(e, t0, { images: files.length, errors: errors.length });
  e.destroy();
  await out?.end({ errors });
  if (errors.length) {
    console.error(`mnv2: ${errors.length} of ${files.length} file${files.length > 1 ? 's' : ''} could not be read: ${errors.map((x) => x.file).join(', ')}`);
    return 1;
  }
  return 0;
}
