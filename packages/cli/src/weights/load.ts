// Pretrained weights for the CLI: which file (--weights, MNV2_WEIGHTS, or the shared copies of a dev
// checkout), which format (by extension, else by content), and the labels that go with them.
//
// Formats: .tflite (float or quantized classifier, dequantized), a folder of TF-Slim .npy files,
// .safetensors (Keras names, as mnv2 writes them). .onnx (torchvision-layout
// MobileNetV2, float or QLinear int8, dequantized), Keras .h5. Keras .keras archives are recognised and
// refused with a clear message until their importers exist.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  classifierInfo,
  importKerasH5,
  importOnnx,
  importTfSlim,
  importTflite,
  labelsForClasses,
  parseLabels,
  parseSafetensors,
  type ClassLabels,
  type ClassifierInfo,
  type PaddingMode,
  type PreprocessMode,
  type WeightMap, assertFiniteWeights } from '@mnv2/core';

export type WeightsFormat = 'tflite' | 'tfslim-npy' | 'safetensors' | 'keras-h5' | 'onnx';

export interface LoadedWeights {
  path: string;
  format: WeightsFormat;
  weights: WeightMap;
  info: ClassifierInfo;
  /** One line describing the weights (format, width, classes, quantization). */
  description: string;
}

export class WeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsError';
  }
}

/** Shared weights a development checkout finds beside it, in order of preference. */
export const DEFAULT_WEIGHT_FILES = ['tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', 'tflite/mobilenet_v2_1.0_224_quant.tflite'];

/** The repository root: the nearest ancestor of this module with the workspace's package.json. */
function repoRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mnv2') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** `../shared/weights` folders a dev checkout may have (relative to the repo root, then to cwd). */
export function sharedWeightDirs(): string[] {
  const root = repoRoot();
  const dirs = [root && resolve(root, '../shared/weights'), resolve(process.cwd(), '../shared/weights')].filter((d): d is string => !!d);
  return [...new Set(dirs)].filter((d) => existsSync(d));
}

export interface ResolvedWeights {
  path: string;
  how: 'flag' | 'env' | 'default';
}

/** --weights, else $MNV2_WEIGHTS, else the first shared default that exists; else an error saying what to pass. */
export function resolveWeightsPath(flag?: string): ResolvedWeights {
  if (flag) return { path: resolve(flag), how: 'flag' };
  const env = process.env.MNV2_WEIGHTS;
  if (env) return { path: resolve(env), how: 'env' };
  for (const dir of sharedWeightDirs()) {
    for (const f of DEFAULT_WEIGHT_FILES) {
      const p = join(dir, f);
      if (existsSync(p)) return { path: p, how: 'default' };
    }
  }
  throw new WeightsError(
    'no pretrained weights found: pass --weights FILE (a MobileNetV2 classifier as .tflite, .safetensors, or a folder of TF-Slim .npy files) or set MNV2_WEIGHTS. (Automatic download is not implemented yet.)',
  );
}

const NOT_YET: Record<string, string> = {
  '.keras': 'Keras .keras archives are not supported yet',
  '.pth': 'PyTorch checkpoints are not supported yet',
  '.pt': 'PyTorch checkpoints are not supported yet',
  '.ckpt': 'TF checkpoints are not supported: dump them to one .npy per variable (a TF-Slim .npy folder)',
};
const SUPPORTED = 'use a .tflite, .h5 (Keras), .onnx or .safetensors file, or a folder of TF-Slim .npy files';

/** Format from the first bytes (for files without a known extension). */
function sniff(head: Uint8Array): WeightsFormat | string {
  const ascii = (a: number, b: number) => String.fromCharCode(...head.subarray(a, b));
  if (head.length >= 8 && ascii(4, 8) === 'TFL3') return 'tflite';
  if (head.length >= 8 && head[0] === 0x89 && ascii(1, 4) === 'HDF') return 'keras-h5';
  if (head.length >= 2 && head[0] === 0x50 && head[1] === 0x4b) return 'a zip archive (a .keras or PyTorch file?), which is not supported yet';
  if (head.length >= 9) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getUint32(0, true);
    if (n > 1 && head[8] === 0x7b /* { */ && new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true) === 0) return 'safetensors';
  }
  return 'an unknown format';
}

/** `cannot load weights '<path>': <reason>`, without repeating the path when the reason names it already. */
function loadError(path: string, e: unknown): WeightsError {
  const msg = e instanceof Error ? e.message : String(e);
  return new WeightsError(msg.includes(path) || msg.includes(basename(path)) ? `cannot load weights: ${msg}` : `cannot load weights '${path}': ${msg}`);
}

/** Reads and maps the weights at `path` (a file or a TF-Slim .npy folder) for an ImageNet classifier. */
export async function loadClassifierWeights(path: string): Promise<LoadedWeights> {
  const w = await readClassifierWeights(path);
  try {
    assertFiniteWeights(w.weights, `weights '${path}'`);
  } catch (e) {
    throw new WeightsError((e as Error).message);
  }
  return w;
}

async function readClassifierWeights(path: string): Promise<LoadedWeights> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WeightsError(`weights '${path}': ${code === 'ENOENT' ? 'no such file or folder' : String(e)}`);
  }
  const fail = (e: unknown): never => {
    if (e instanceof WeightsError) throw e;
    throw loadError(path, e);
  };

  if (st.isDirectory()) {
    try {
      const names = (await readdir(path)).filter((f) => f.endsWith('.npy')).sort();
      if (names.length === 0) throw new WeightsError(`weights folder '${path}' has no .npy files (expected a TF-Slim dump: Conv_weights.npy, expanded_conv_…); ${SUPPORTED}`);
      const files: Record<string, Uint8Array> = {};
      for (const f of names) files[f] = await readFile(join(path, f));
      const r = importTfSlim(files);
      if (!r.includeTop) {
        throw new WeightsError(
          `weights folder '${path}' is a TF-Slim MobileNetV2 base without its classifier head (Logits_Conv2d_1c_1x1_weights.npy and _biases.npy): it can extract features but not classify ImageNet`,
        );
      }
      const info = classifierInfo(r.weights, { source: path, alpha: r.alpha, classes: r.classes });
      return { path, format: 'tfslim-npy', weights: r.weights, info, description: `TF-Slim .npy folder, alpha ${info.alpha}, ${info.classes} classes` };
    } catch (e) {
      return fail(e);
    }
  }

  const ext = extname(path).toLowerCase();
  if (NOT_YET[ext]) throw new WeightsError(`weights '${path}': ${NOT_YET[ext]}; ${SUPPORTED}`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    return fail(e);
  }
  let format: WeightsFormat;
  if (ext === '.tflite') format = 'tflite';
  else if (ext === '.safetensors') format = 'safetensors';
  else if (ext === '.h5' || ext === '.hdf5') format = 'keras-h5';
  else if (ext === '.onnx') format = 'onnx';
  else {
    const s = sniff(bytes.subarray(0, 16));
    if (s !== 'tflite' && s !== 'safetensors' && s !== 'keras-h5') throw new WeightsError(`weights '${path}': ${s}; ${SUPPORTED}`);
    format = s;
  }

  try {
    if (format === 'tflite') {
      const { weights, info: t } = importTflite(bytes, path);
      if (t.classes === undefined) throw new WeightsError(`weights '${path}': this TFLite MobileNetV2 has no classifier head (it ends at the features)`);
      const info = classifierInfo(weights, { source: path, alpha: t.alpha, inputSize: t.inputSize, classes: t.classes, background: t.background, preprocess: 'tf', padding: 'same', epsilon: t.epsilon });
      const q = t.inputQuantization ? `quantized, ${t.inputQuantization.type} input; weights dequantized to float` : 'float';
      return { path, format, weights, info, description: `TFLite (${q}), alpha ${info.alpha}, ${info.inputSize}x${info.inputSize}, ${info.classes} classes${info.background ? ' (0 = background)' : ''}` };
    }
    if (format === 'onnx') {
      const { weights, info: o } = importOnnx(bytes, path);
      if (o.classes === undefined) throw new WeightsError(`weights '${path}': this ONNX MobileNetV2 has no classifier head (it ends at the features)`);
      const info = classifierInfo(weights, { source: path, alpha: o.alpha, inputSize: o.inputSize, classes: o.classes, preprocess: 'torch', padding: 'symmetric', epsilon: o.epsilon });
      const q = o.opCounts.QLinearConv || o.opCounts.DequantizeLinear ? 'int8 quantized, weights dequantized to float' : 'float';
      return { path, format, weights, info, description: `ONNX (${q}), alpha ${info.alpha}, ${info.inputSize}x${info.inputSize}, ${info.classes} classes` };
    }
    if (format === 'keras-h5') {
      const h = await importKerasH5(bytes, { file: path });
      if (!h.includeTop) throw new WeightsError(`weights '${path}': a Keras _no_top file has no classifier head; use it as a training base (mnv2 train --weights)`);
      const info = classifierInfo(h.weights, { source: path, alpha: h.alpha, inputSize: h.inputSize, classes: h.classes, preprocess: 'tf', padding: 'same' });
      return { path, format, weights: h.weights, info, description: `Keras .h5, alpha ${info.alpha}, ${info.inputSize}x${info.inputSize}, ${info.classes} classes` };
    }
    const st2 = parseSafetensors(bytes, path);
    const m = st2.metadata;
    const pre = (['tf', 'torch', 'none'] as const).find((p) => p === m.preprocess);
    const pad = (['same', 'symmetric'] as const).find((p) => p === m.padding);
    const size = Number(m.input_size ?? m.inputSize);
    const eps = Number(m.epsilon);
    const info = classifierInfo(st2.weights, {
      source: path,
      preprocess: pre as PreprocessMode | undefined,
      padding: pad as PaddingMode | undefined,
      inputSize: Number.isInteger(size) && size >= 32 ? size : undefined,
      epsilon: Number.isFinite(eps) && eps > 0 ? eps : undefined,
    });
    return { path, format, weights: st2.weights, info, description: `safetensors, alpha ${info.alpha}, ${info.classes} classes` };
  } catch (e) {
    return fail(e);
  }
}

/**
 * Class names for a model with `classes` outputs: `flag` if given; else, for 1001 classes the TF-Slim
 * list (`imagenet_labels_1001_coral.txt`), for 1000 Keras' `imagenet_class_index.json` (either adapted
 * if only the other exists), looked up in `labels/` beside the weights' folder (and beside the weights
 * themselves) and in the shared weights' `labels/`. Falls back to "class N".
 */
export async function findLabels(weightsPath: string, classes: number, flag?: string): Promise<ClassLabels> {
  if (flag) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(flag);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new WeightsError(`labels '${flag}': ${code === 'ENOENT' ? 'no such file' : String(e)}`);
    }
    const l = parseLabels(bytes, flag);
    const fitted = labelsForClasses(classes, l);
    if (fitted.source === 'none') throw new WeightsError(`labels '${flag}' have ${l.names.length} name${l.names.length === 1 ? '' : 's'} but the model has ${classes} classes`);
    return fitted;
  }
  const wdir = statSafe(weightsPath)?.isDirectory() ? weightsPath : dirname(weightsPath);
  const dirs = [...new Set([join(dirname(wdir), 'labels'), join(wdir, 'labels'), ...sharedWeightDirs().map((d) => join(d, 'labels'))])];
  const files = classes === 1001 ? ['imagenet_labels_1001_coral.txt', 'imagenet_class_index.json'] : ['imagenet_class_index.json', 'imagenet_labels_1001_coral.txt'];
  for (const f of files) {
    for (const d of dirs) {
      const p = join(d, f);
      if (!existsSync(p)) continue;
      try {
        const fitted = labelsForClasses(classes, parseLabels(await readFile(p), p));
        if (fitted.source !== 'none') return fitted;
      } catch {
        // unreadable labels: try the next candidate
      }
    }
  }
  return labelsForClasses(classes, null);
}

function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}
