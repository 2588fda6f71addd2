// `mnv2 summary`: Keras' model.summary() for MobileNetV2 — every layer with its Keras name, output
// shape and parameter count, and the total / trainable / non-trainable counts Keras prints.
import { countParams, formatSummary, kerasLayers } from '@mnv2/core';
import { numberFlag, parseArgs } from '../util/args.js';
import { buildRunModel, readRun } from '../run/load-run.js';
import { createNodeEngine } from '../node-gpu.js';

const HELP = `mnv2 summary [--alpha 1.0] [--size 224] [--no-top] [--pooling avg|max] [--classes 1000] [--fine-tune-at N | --frozen]
mnv2 summary <run-dir>

The second form prints the model a 'mnv2 train' run built (preprocess → MobileNetV2 base →
pooling → dropout → Dense), with the base's trainable layers as they were at the end of training.

Prints MobileNetV2's layers exactly as keras.applications.MobileNetV2(...).summary() names them
(the base has 154 layers, InputLayer included), with Keras' parameter totals.
  --frozen          base not trainable (Keras: base_model.trainable = False)
  --fine-tune-at N  layers before index N frozen (Keras: for layer in base.layers[:N]: trainable = False)
Example: mnv2 summary --size 160 --no-top --frozen`;

export async function summary(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['alpha', 'size', 'pooling', 'classes', 'fine-tune-at'], booleans: ['no-top', 'frozen'] }, 'summary');
  if (args.positionals.length > 1) throw new Error(`summary: expected at most one run folder, got ${args.positionals.length} (see 'mnv2 summary --help')`);
  if (args.positionals.length === 1) return runSummary(args.positionals[0]);
  const alpha = numberFlag(args, 'alpha', 1.0, 'summary');
  const size = numberFlag(args, 'size', 224, 'summary');
  if (size < 32) throw new Error(`summary: --size must be at least 32, got ${size}`);
  const pooling = args.flags.get('pooling');
  if (pooling !== undefined && pooling !== 'avg' && pooling !== 'max') throw new Error(`summary: --pooling must be avg or max, got '${String(pooling)}'`);
  const includeTop = !args.flags.has('no-top');
  const layers = kerasLayers({ alpha, inputSize: size, includeTop, pooling: pooling as 'avg' | 'max' | undefined, classes: numberFlag(args, 'classes', 1000, 'summary') });
  const at = args.flags.has('frozen') ? layers.length : numberFlag(args, 'fine-tune-at', 0, 'summary');
  const trainable = (l: { index: number }) => l.index >= at;
  const name = `mobilenetv2_${alpha.toFixed(2)}_${size}`;
  console.log(formatSummary(name, layers, trainable));
  const c = countParams(layers, trainable);
  if (at > 0) console.log(` (${layers.filter((l) => l.index < at && l.weights.length).length} layers with weights frozen; ${c.trainable.toLocaleString('en-US')} trainable)`);
  return 0;
}

/** The Keras summary of a trained run's model (built on the GPU through the Keras-shaped API). */
async function runSummary(dir: string): Promise<number> {
  const run = await readRun(dir, 'summary');
  const { engine: e } = await createNodeEngine();
  const model = buildRunModel(e, run);
  if (run.fineTuneAt !== null) model.base.net.setBaseTrainable(run.fineTuneAt);
  console.log(model.summary());
  model.dispose();
  e.destroy();
  return 0;
}
