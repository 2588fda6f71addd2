// Where `mnv2 tune` keeps what it measured, one JSON per adapter:
// $MNV2_TUNING_DIR, else $XDG_CACHE_HOME/mnv2/tuning, else ~/.cache/mnv2/tuning. Every command's
// engine loads the file of its adapter. MNV2_TUNING: 'auto' (default) also measures it on the first
// train / classify / predict / evaluate on an adapter that has none; 'load' only loads; 'off' uses
// the built-in heuristic only.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { adapterKey, setMatmulTuning, tuneNetworkMatmuls, type Engine, type MatmulTuning } from '@mnv2/core';
import { writeAtomic } from './util/atomic-write.js';

export function tuningDir(env: Record<string, string | undefined> = process.env): string {
  if (env.MNV2_TUNING_DIR) return env.MNV2_TUNING_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mnv2', 'tuning');
}

/** The file of this engine's adapter. */
export function tuningFile(e: Engine): string {
  const slug = adapterKey(e).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 100) || 'adapter';
  return join(tuningDir(), `matmul-${slug}.json`);
}

/** Loads this adapter's tuning into the engine when there is one; says what happened (for doctor). */
export function loadTuning(e: Engine): { file: string; loaded: boolean; shapes: number; why?: string } {
  const file = tuningFile(e);
  if (tuningMode() === 'off') return { file, loaded: false, shapes: 0, why: 'MNV2_TUNING=off' };
  if (!existsSync(file)) return { file, loaded: false, shapes: 0, why: tuningMode() === 'auto' ? "none yet: the first train, classify, predict or evaluate measures it, or run 'mnv2 tune'" : "none yet (run 'mnv2 tune')" };
  let t: MatmulTuning;
  try {
    t = JSON.parse(readFileSync(file, 'utf8')) as MatmulTuning;
  } catch (err) {
    return { file, loaded: false, shapes: 0, why: `unreadable (${(err as Error).message}): run 'mnv2 tune' again` };
  }
  const ok = setMatmulTuning(e, t);
  return { file, loaded: ok, shapes: ok ? Object.keys(t.choices).length : 0, why: ok ? undefined : `made on another adapter or version ('${t.adapter}'): run 'mnv2 tune' again` };
}

/** Writes this adapter's tuning file (atomically; the folder is made if missing). Returns its path. */
export async function saveTuning(e: Engine, tuning: MatmulTuning): Promise<string> {
  const file = tuningFile(e);
  await mkdir(dirname(file), { recursive: true });
  await writeAtomic(file, JSON.stringify(tuning, null, 2) + '\n');
  return file;
}

/** MNV2_TUNING: 'auto' (default), 'load' or 'off'. */
export function tuningMode(env: Record<string, string | undefined> = process.env): 'auto' | 'load' | 'off' {
  const v = (env.MNV2_TUNING ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'load' || v === 'off') return v;
  throw new Error(`MNV2_TUNING must be auto, load or off, got '${env.MNV2_TUNING}'`);
}

/**
 * First use of an adapter (no tuning file yet, MNV2_TUNING=auto): times the matmul variants of the
 * network this command is about to run (its size, batch and width; at most MNV2_TUNING_BUDGET
 * seconds, default 30, the largest products first), uses the result at once and saves it for every
 * later command. Says what it does through `log`. Returns whether it tuned. A cache folder that
 * cannot be written costs only the saving: the choices still serve this run.
 */
export async function tuneOnFirstUse(e: Engine, o: { alpha: number; inputSize: number; batch: number; log: (line: string) => void }): Promise<boolean> {
  if (tuningMode() !== 'auto') return false;
  const file = tuningFile(e);
  if (existsSync(file)) return false; // loaded with the engine (an unusable one is doctor's to report)
  const budget = Number(process.env.MNV2_TUNING_BUDGET ?? 30);
  if (!(budget > 0)) throw new Error(`MNV2_TUNING_BUDGET must be a number of seconds > 0, got '${process.env.MNV2_TUNING_BUDGET}'`);
  o.log(`[mnv2] first use of this adapter: timing the matmul variants of MobileNetV2 ${o.alpha} at ${o.inputSize}x${o.inputSize}, batch ${o.batch} (at most ${budget} s, once; 'mnv2 tune' redoes it, MNV2_TUNING=off skips it)`);
  const t0 = Date.now();
  let sumDefault = 0;
  let sumBest = 0;
  let tuning: MatmulTuning;
  try {
    ({ tuning } = await tuneNetworkMatmuls(e, {
      alpha: o.alpha,
      inputSize: o.inputSize,
      batch: o.batch,
      budgetMs: budget * 1000,
      reps: 3,
      onShape: (_done, _total, _key, t) => {
        sumDefault += t.defaultMs;
        sumBest += t.ms;
      },
    }));
  } catch (err) {
    // The tuner also records a whole-network training step at this batch: on a small device that
    // may not fit where the command's own work does. The heuristic serves instead.
    o.log(`[mnv2] could not time the variants (${(err as Error).message.split('\n')[0]}): the built-in heuristic decides; 'mnv2 tune' with a smaller --batch-size measures them`);
    return false;
  }
  setMatmulTuning(e, tuning);
  const n = Object.keys(tuning.choices).length;
  const what = `${n} products in ${((Date.now() - t0) / 1000).toFixed(1)} s (their sum ${sumDefault.toFixed(1)} ms with the heuristic, ${sumBest.toFixed(1)} ms tuned)`;
  try {
    await saveTuning(e, tuning);
    o.log(`[mnv2] tuned ${what}; saved in ${file}`);
  } catch (err) {
    o.log(`[mnv2] tuned ${what}; could not save it in ${file} (${(err as Error).message}): used for this run only`);
  }
  return true;
}
