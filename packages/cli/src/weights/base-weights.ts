// The ImageNet base for transfer learning (include_top=False): read from a Keras .h5, a .safetensors
// file with Keras names, or a folder of TF-Slim .npy files. Used by `mnv2 train` and by the Node
// entry of the Keras-shaped API (`MobileNetV2.pretrained({ weights: 'imagenet' | PATH })`).
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { importKerasH5, importTfSlim, parseSafetensors, type WeightMap, assertFiniteWeights } from '@mnv2/core';
import { sharedWeightDirs } from './load.js';

const SHARED_BASE = 'tfslim_npy_mobilenet_v2_1.0_224';

export interface BaseWeights {
  weights: WeightMap;
  /** Width the file declares (null for safetensors, which does not say). */
  alpha: number | null;
  /** For messages: format and path. */
  what: string;
}

/** `$MNV2_WEIGHTS`, else the float ImageNet base in a dev checkout's ../shared/weights; else an error saying what to pass. */
export function defaultBaseWeightsPath(): string {
  if (process.env.MNV2_WEIGHTS) return process.env.MNV2_WEIGHTS;
  const candidates = sharedWeightDirs().map((d) => join(d, SHARED_BASE));
  for (const p of candidates) if (existsSync(p)) return p;
  throw new Error(
    `no ImageNet MobileNetV2 base weights found (looked for ../shared/weights/${SHARED_BASE}): set MNV2_WEIGHTS or pass a path — a Keras no-top .h5 ('mnv2 weights fetch --no-top'), a TF-Slim .npy folder or a .safetensors file with Keras names`,
  );
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`cannot read '${path}': ${(e as Error).message}`);
  }
}

export async function loadBaseWeights(path: string): Promise<BaseWeights> {
  const b = await readBaseWeights(path);
  assertFiniteWeights(b.weights, `weights '${path}'`);
  return b;
}

async function readBaseWeights(path: string): Promise<BaseWeights> {
  if (!existsSync(path)) throw new Error(`weights '${path}' not found`);
  if (/\.(h5|hdf5)$/i.test(path)) {
    const h = await importKerasH5(await readBytes(path), { file: path });
    return { weights: h.weights, alpha: h.alpha, what: `Keras .h5 ${path} (alpha ${h.alpha})` };
  }
  if (path.endsWith('.safetensors')) return { weights: parseSafetensors(await readBytes(path), path).weights, alpha: null, what: `safetensors ${path}` };
  if (!(await stat(path)).isDirectory()) throw new Error(`weights '${path}': expected a Keras .h5 or .safetensors file or a folder of TF-Slim .npy files`);
  const names = (await readdir(path)).filter((f) => f.endsWith('.npy'));
  if (!names.length) throw new Error(`weights folder '${path}' has no .npy files (expected a TF-Slim MobileNetV2 dump)`);
  const files: Record<string, Uint8Array> = {};
  for (const f of names) files[f] = await readBytes(join(path, f));
  const r = importTfSlim(files);
  return { weights: r.weights, alpha: r.alpha, what: `TF-Slim .npy folder ${path} (alpha ${r.alpha})` };
}
