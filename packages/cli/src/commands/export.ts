// `mnv2 export --onnx FILE [weights]`: writes MobileNetV2 (pretrained classifier or a model trained
// with `mnv2 train`) as a float ONNX graph (opset 13) that ONNX Runtime, TensorRT, OpenVINO… run.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeAtomic } from '../util/atomic-write.js';
import { join, resolve } from 'node:path';
import { encodeOnnxModel, mobileNetV2Onnx, parseSafetensors, type WeightMap } from '@mnv2/core';
import { loadClassifierWeights, resolveWeightsPath } from '../weights/load.js';
import { parseArgs } from '../util/args.js';

const HELP = `mnv2 export --onnx FILE [WEIGHTS] [--nchw] [--softmax] [--fold-bn] [--force]

Writes MobileNetV2 as a float ONNX model (opset 13, batch dimension 'N').
WEIGHTS: a trained run folder (mnv2 train --out DIR) or its model.safetensors, or any classifier
weights 'mnv2 classify' reads (.tflite, Keras .h5, .safetensors). Default: the classifier that
'mnv2 classify' would use.

  --nchw       input [N,3,H,W] (PyTorch/ONNX convention); default [N,H,W,3] like Keras (a Transpose
               node is added)
  --softmax    output probabilities instead of logits (a sigmoid is not added for binary heads)
  --fold-bn    fold BatchNorm into the convolutions (as tf2onnx does); default keeps
               BatchNormalization nodes
  --force      overwrite FILE if it exists

Input: images resized to the model's size, scaled to [-1, 1] (x / 127.5 - 1).
Example: mnv2 export --onnx alpaca.onnx runs/alpaca`;

interface ExportSource {
  weights: WeightMap;
  alpha: number;
  inputSize: number;
  classes: number;
  denseName: string;
  what: string;
}

async function trainedRun(file: string): Promise<ExportSource> {
  const st = parseSafetensors(await readFile(file), file);
  const m = st.metadata;
  const alpha = Number(m.alpha);
  const inputSize = Number(m.input_size);
  if (!(alpha > 0) || !(inputSize >= 32)) throw new Error(`export: ${file} lacks alpha/input_size metadata (was it written by mnv2 train?)`);
  const denseName = st.weights.has('dense/kernel') ? 'dense' : 'predictions';
  const bias = st.weights.get(`${denseName}/bias`);
  if (!bias) throw new Error(`export: ${file} has no classifier head (${denseName}/bias)`);
  return { weights: st.weights, alpha, inputSize, classes: bias.data.length, denseName, what: `trained model ${file}` };
}

async function source(arg: string | undefined): Promise<ExportSource> {
  let path = arg ? resolve(arg) : resolveWeightsPath().path;
  if (arg && existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'model.safetensors'))) path = join(path, 'model.safetensors');
  if (path.endsWith('.safetensors')) {
    const st = parseSafetensors(await readFile(path), path);
    if (st.metadata.alpha !== undefined) return trainedRun(path);
  }
  const w = await loadClassifierWeights(path);
  return { weights: w.weights, alpha: w.info.alpha, inputSize: w.info.inputSize, classes: w.info.classes, denseName: 'predictions', what: w.description };
}

export async function exportModel(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['onnx'], booleans: ['nchw', 'softmax', 'fold-bn', 'force'] }, 'export');
  const out = args.flags.get('onnx');
  if (typeof out !== 'string') throw new Error("export: pass --onnx FILE (see 'mnv2 export --help')");
  if (args.positionals.length > 1) throw new Error('export: give at most one weights path');
  const outPath = resolve(out);
  if (existsSync(outPath) && !args.flags.has('force')) throw new Error(`export: ${outPath} exists: pass --force to overwrite it`);
  const src = await source(args.positionals[0]);
  const graph = mobileNetV2Onnx({
    alpha: src.alpha,
    inputSize: src.inputSize,
    batch: 'N',
    weight: (name) => {
      const t = src.weights.get(name);
      if (!t) throw new Error(`export: the weights have no tensor '${name}'`);
      return t.data;
    },
    head: { classes: src.classes, denseName: src.denseName, softmax: args.flags.has('softmax') },
    foldBatchNorm: args.flags.has('fold-bn'),
    inputLayout: args.flags.has('nchw') ? 'nchw' : 'nhwc',
  });
  const bytes = encodeOnnxModel(graph);
  // Atomic: a crash never leaves a half-written model where a good one was.
  await writeAtomic(outPath, bytes);
  const layout = args.flags.has('nchw') ? `[N,3,${src.inputSize},${src.inputSize}]` : `[N,${src.inputSize},${src.inputSize},3]`;
  console.log(`[mnv2] wrote ${outPath} (${(bytes.length / 2 ** 20).toFixed(1)} MiB): MobileNetV2 alpha ${src.alpha}, input ${layout} in [-1,1], ${src.classes} ${args.flags.has('softmax') ? 'probabilities' : 'logits'}; from ${src.what}`);
  return 0;
}
