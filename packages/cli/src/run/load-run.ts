// Loads a run folder written by `mnv2 train --out DIR` (config.json + model.safetensors) into a
// MobileNetV2Net with the trained head, plus what evaluate/predict need: class names, label mode,
// image size. Errors say which file is missing or malformed.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MobileNetV2, adam, layers, losses, parseSafetensors, sequential, type Engine, type LabelMode, type Model, type WeightMap, assertFiniteWeights } from '@mnv2/core';

export interface RunInfo {
  dir: string;
  classNames: string[];
  labelMode: LabelMode;
  alpha: number;
  imageSize: number;
  dropout: number;
  classes: number; // head outputs: 1 for binary
  denseName: string;
  /** Units of the hidden Dense(relu) layer ('dense'), when the run had --hidden-units. */
  hidden: number | null;
  /** Keras layer index fine-tuning started from (null: the base stayed frozen). */
  fineTuneAt: number | null;
  epoch: number | null;
  weights: WeightMap;
}

export async function readRun(dirArg: string, cmd: string): Promise<RunInfo> {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${cmd}: run folder '${dir}' does not exist (pass the --out folder of 'mnv2 train')`);
  const cfgPath = join(dir, 'config.json');
  const modelPath = join(dir, 'model.safetensors');
  for (const p of [cfgPath, modelPath]) if (!existsSync(p)) throw new Error(`${cmd}: '${dir}' is not a training run folder: ${p} is missing (pass the --out folder of 'mnv2 train')`);
  let cfg: { classNames?: unknown; labelMode?: unknown; alpha?: unknown; imageSize?: unknown; head?: { dropout?: unknown; classes?: unknown; dense?: unknown; hidden?: unknown }; epochsDone?: unknown; fineTuneAt?: unknown; fineTuneEpochs?: unknown };
  try {
    cfg = JSON.parse(await readFile(cfgPath, 'utf8'));
  } catch (e) {
    throw new Error(`${cmd}: ${cfgPath} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const classNames = cfg.classNames;
  if (!Array.isArray(classNames) || classNames.length < 2 || !classNames.every((c) => typeof c === 'string')) throw new Error(`${cmd}: ${cfgPath} has no classNames list`);
  const alpha = Number(cfg.alpha);
  const imageSize = Number(cfg.imageSize);
  if (!(alpha > 0) || !(imageSize >= 32)) throw new Error(`${cmd}: ${cfgPath} lacks alpha/imageSize`);
  const labelMode: LabelMode = cfg.labelMode === 'binary' || cfg.labelMode === 'sparse-categorical' ? cfg.labelMode : classNames.length === 2 ? 'binary' : 'sparse-categorical';
  const st = parseSafetensors(await readFile(modelPath), modelPath);
  assertFiniteWeights(st.weights, `${cmd}: ${modelPath}`);
  const denseName = typeof cfg.head?.dense === 'string' ? cfg.head.dense : st.weights.has('dense/kernel') ? 'dense' : 'predictions';
  const kernel = st.weights.get(`${denseName}/kernel`);
  const bias = st.weights.get(`${denseName}/bias`);
  if (!kernel || !bias) throw new Error(`${cmd}: ${modelPath} has no classifier head (${denseName}/kernel, ${denseName}/bias)`);
  const classes = labelMode === 'binary' ? 1 : classNames.length;
  if (bias.data.length !== classes) throw new Error(`${cmd}: ${modelPath} has a ${bias.data.length}-output head, but config.json lists ${classNames.length} classes (${labelMode})`);
  const epoch = st.metadata.epoch !== undefined ? Number(st.metadata.epoch) : typeof cfg.epochsDone === 'number' ? cfg.epochsDone : null;
  const hidden = typeof cfg.head?.hidden === 'number' ? cfg.head.hidden : null;
  const fineTuneAt = typeof cfg.fineTuneAt === 'number' && cfg.fineTuneEpochs !== 0 ? cfg.fineTuneAt : null;
  return { dir, classNames: classNames as string[], labelMode, alpha, imageSize, dropout: Number(cfg.head?.dropout ?? 0), classes, denseName, hidden, fineTuneAt, epoch, weights: st.weights };
}

/**
 * The run's model through the Keras-shaped API: preprocess → frozen base → pooling → dropout →
 * [Dense(relu)] → Dense (logits), with the trained weights, compiled with the run's loss.
 */
export function buildRunModel(e: Engine, run: RunInfo): Model {
  const base = new MobileNetV2(e, { alpha: run.alpha, inputSize: run.imageSize, weights: run.weights, source: run.dir });
  base.trainable = false;
  const model = sequential([
    layers.preprocessInput(),
    base,
    layers.globalAveragePooling2d(),
    layers.dropout(run.dropout),
    ...(run.hidden ? [layers.dense(run.hidden, { activation: 'relu', name: 'dense' })] : []),
    layers.dense(run.classes, { name: run.denseName }),
  ]);
  try {
    model.setWeights(run.weights);
  } catch (err) {
    model.dispose();
    throw new Error(`model.safetensors in ${run.dir}: ${(err as Error).message}`);
  }
  const loss = run.labelMode === 'binary' ? losses.binaryCrossentropy({ fromLogits: true }) : losses.sparseCategoricalCrossentropy({ fromLogits: true });
  model.compile({ optimizer: adam(), loss, metrics: ['accuracy'] }); // evaluate needs the loss; the optimizer never steps
  return model;
}

/** Probabilities from head logits: sigmoid for a binary head (P(class 1)), else softmax. */
export function probabilities(logits: Float32Array, rows: number, classes: number, binary: boolean): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    if (binary) {
      const p1 = 1 / (1 + Math.exp(-logits[r]));
      out.push([1 - p1, p1]);
      continue;
    }
    const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
    const m = Math.max(...row);
    const ex = row.map((v) => Math.exp(v - m));
    const s = ex.reduce((a, b) => a + b, 0);
    out.push(ex.map((v) => v / s));
  }
  return out;
}
