// Classifier weights for a user who named none: --weights, $MNV2_WEIGHTS or a dev checkout's
// ../shared/weights first; else Keras' official MobileNetV2 1.0/224 ImageNet classifier, fetched once
// into the user's cache (as `mnv2 weights fetch` does), with Keras' class index beside it.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseLabels } from '@mnv2/core';
import { writeAtomic } from '../util/atomic-write.js';
import { defaultCacheDir, fetchKerasWeights, KERAS_BASE_URL, kerasModelsDir } from './fetch.js';
import { resolveWeightsPath, WeightsError } from './load.js';
import { kerasWeightsFileName } from '@mnv2/core';

/** Keras' `CLASS_INDEX_PATH` (what `decode_predictions` downloads). */
export const KERAS_CLASS_INDEX_URL = 'https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json';

export interface ClassifierWeightsChoice {
  path: string;
  /** Class names to use when the user gave none (set for fetched weights). */
  labels?: string;
}

/**
 * The weights classify/export use. Without any, fetches Keras' file into the cache
 * ($MNV2_CACHE, else ~/.cache/mnv2/weights; mirrors: $MNV2_WEIGHTS_BASE_URL, $MNV2_LABELS_URL) and
 * says so on stderr.
 */
export async function classifierWeights(flag: string | undefined, command: string): Promise<ClassifierWeightsChoice> {
  try {
    return { path: resolveWeightsPath(flag).path };
  } catch (e) {
    if (!(e instanceof WeightsError)) throw e;
  }
  const alpha = 1.0;
  const size = 224;
  const cacheDir = defaultCacheDir();
  const fileName = kerasWeightsFileName(alpha, size, true);
  const baseUrl = process.env.MNV2_WEIGHTS_BASE_URL || KERAS_BASE_URL;
  const say = (m: string) => process.stderr.write(`mnv2 ${command}: ${m}\n`);
  const cached = existsSync(join(cacheDir, fileName)) || existsSync(join(kerasModelsDir(), fileName));
  if (!cached) {
    say(
      `no weights named (--weights, MNV2_WEIGHTS) and no ../shared/weights: fetching Keras' official MobileNetV2 ` +
        `1.0/224 ImageNet weights (${fileName}) from ${baseUrl} into the cache ${cacheDir} (once; 'mnv2 weights fetch' does the same)`,
    );
  }
  const r = await fetchKerasWeights({ alpha, size, includeTop: true, cacheDir, baseUrl, progressStream: process.stderr, log: say });
  return { path: r.path, labels: await classIndex(cacheDir, say) };
}

/** Keras' imagenet_class_index.json in the cache (fetched once); undefined (names "class N") if it cannot be had. */
async function classIndex(cacheDir: string, say: (m: string) => void): Promise<string | undefined> {
  const path = join(cacheDir, 'imagenet_class_index.json');
  const valid = (bytes: Uint8Array) => parseLabels(bytes, path).names.length === 1000;
  if (existsSync(path)) {
    try {
      if (valid(new Uint8Array(await readFile(path)))) return path;
    } catch {
      // unreadable: fetch it again
    }
  }
  const url = process.env.MNV2_LABELS_URL || KERAS_CLASS_INDEX_URL;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (!valid(bytes)) throw new Error('not a 1000-class index');
    await mkdir(cacheDir, { recursive: true });
    await writeAtomic(path, bytes);
    say(`class names: fetched ${url} into ${path}`);
    return path;
  } catch (e) {
    say(`class names: could not fetch ${url} (${(e as Error).message}); classes are shown as "class N" (--labels FILE names them)`);
    return undefined;
  }
}
