// Where `mnv2 tune` keeps what it measured, one JSON per adapter:
// $MNV2_TUNING_DIR, else $XDG_CACHE_HOME/mnv2/tuning, else ~/.cache/mnv2/tuning. Every command's
// engine loads the file of its adapter (MNV2_TUNING=off: the built-in heuristic only).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { adapterKey, setMatmulTuning, type Engine, type MatmulTuning } from '@mnv2/core';

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
  if (process.env.MNV2_TUNING === 'off') return { file, loaded: false, shapes: 0, why: 'MNV2_TUNING=off' };
  if (!existsSync(file)) return { file, loaded: false, shapes: 0, why: "none yet (run 'mnv2 tune')" };
  let t: MatmulTuning;
  try {
    t = JSON.parse(readFileSync(file, 'utf8')) as MatmulTuning;
  } catch (err) {
    return { file, loaded: false, shapes: 0, why: `unreadable (${(err as Error).message}): run 'mnv2 tune' again` };
  }
  const ok = setMatmulTuning(e, t);
  return { file, loaded: ok, shapes: ok ? Object.keys(t.choices).length : 0, why: ok ? undefined : `made on another adapter or version ('${t.adapter}'): run 'mnv2 tune' again` };
}
