// The ImageNet base for transfer learning (include_top=False): read from a Keras .h5, a .safetensors
// file with Keras names, or a folder of TF-Slim .npy files. Used by `mnv2 train` and by the Node
// entry of the Keras-shaped API (`MobileNetV2.pretrained({ weights: 'imagenet' | PATH })`).
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { importKerasH5, importTfSlim, KERAS_ALPHAS, KERAS_INPUT_SIZES, kerasWeightsFileName, parseSafetensors, type WeightMap, assertFiniteWeights } from '@mnv2/core';
import type { ProgressStream } from '../util/progress.js';
import { defaultCacheDir, fetchKerasWeights, KERAS_BASE_URL, kerasModelsDir, type FetchWeightsOptions } from './fetch.js';
import { sharedWeightDirs } from './load.js';

const SHARED_BASE = 'tfslim_npy_mobilenet_v2_1.0_224';

export interface BaseWeights {
  weights: WeightMap;
  /** Width the file declares (null for safetensors, which does not say). */
  alpha: number | null;
  /** For messages: format and path. */
  what: string;
}

/** `$MNV2_WEIGHTS`, else the float ImageNet base in one of `sharedDirs` (a dev checkout's ../shared/weights); null if neither. */
function localBaseWeightsPath(env: Record<string, string | undefined>, sharedDirs: string[]): string | null {
  if (env.MNV2_WEIGHTS) return env.MNV2_WEIGHTS;
  for (const p of sharedDirs.map((d) => join(d, SHARED_BASE))) if (existsSync(p)) return p;
  return null;
}

export interface BaseWeightsLookup {
  /** For messages ('train'). */
  command: string;
  alpha: number;
  /** The training input size: Keras' file of that size when it publishes one, else its 224 file (as Keras does). */
  size: number;
  /** Default sharedWeightDirs(). */
  sharedDirs?: string[];
  /** Default process.env (MNV2_WEIGHTS, MNV2_CACHE, MNV2_WEIGHTS_BASE_URL). */
  env?: Record<string, string | undefined>;
  /** Where to say what happens (default process.stderr). */
  stderr?: ProgressStream;
  /** Passed to fetchKerasWeights (tests). */
  fetch?: Pick<FetchWeightsOptions, 'kerasDir' | 'retryDelayMs'>;
}

/**
 * The ImageNet base to train from when --weights names none: `$MNV2_WEIGHTS`, else a dev checkout's
 * ../shared/weights TF-Slim base; else Keras' official no-top weights for this alpha and size, fetched
 * once into the user's cache as 'mnv2 weights fetch --no-top' does ($MNV2_CACHE; mirror
 * $MNV2_WEIGHTS_BASE_URL), saying so on stderr. Unpublished widths get an error saying what to pass.
 */
export async function baseWeightsPath(o: BaseWeightsLookup): Promise<string> {
  const env = o.env ?? process.env;
  const local = localBaseWeightsPath(env, o.sharedDirs ?? sharedWeightDirs());
  if (local) return local;
  if (!KERAS_ALPHAS.includes(o.alpha)) {
    throw new Error(
      `${o.command}: no base weights named (--weights, MNV2_WEIGHTS) and Keras publishes ImageNet MobileNetV2 weights only for alpha ${KERAS_ALPHAS.join(', ')}, not ${o.alpha}: pass --weights FILE, or --weights none to train from scratch`,
    );
  }
  const size = KERAS_INPUT_SIZES.includes(o.size) ? o.size : 224;
  const cacheDir = defaultCacheDir(env);
  const baseUrl = env.MNV2_WEIGHTS_BASE_URL || KERAS_BASE_URL;
  const file = kerasWeightsFileName(o.alpha, size, false);
  const stderr = o.stderr ?? process.stderr;
  const say = (m: string) => stderr.write(`mnv2 ${o.command}: ${m}\n`);
  const kerasDir = o.fetch?.kerasDir === undefined ? kerasModelsDir(env) : o.fetch.kerasDir;
  if (!existsSync(join(cacheDir, file)) && !(kerasDir && existsSync(join(kerasDir, file)))) {
    say(
      `no base weights named (--weights, MNV2_WEIGHTS) and no ../shared/weights: fetching Keras' official MobileNetV2 ` +
        `${Number.isInteger(o.alpha) ? o.alpha.toFixed(1) : String(o.alpha)}/${size} ImageNet base weights without the top (${file}) from ${baseUrl} into the cache ${cacheDir} (once; 'mnv2 weights fetch --no-top' does the same)`,
    );
  }
  const r = await fetchKerasWeights({ alpha: o.alpha, size, includeTop: false, cacheDir, baseUrl, kerasDir, retryDelayMs: o.fetch?.retryDelayMs, progressStream: stderr, log: say });
  return r.path;
}

/** `$MNV2_WEIGHTS`, else the float ImageNet base in a dev checkout's ../shared/weights; else an error saying what to pass. */
export function defaultBaseWeightsPath(): string {
  const local = localBaseWeightsPath(process.env, sharedWeightDirs());
  if (local) return local;
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
