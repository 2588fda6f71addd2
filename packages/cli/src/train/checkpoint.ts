// A training run's checkpoint: ONE file, checkpoint.safetensors, written atomically (temp file,
// fsync, rename), so a kill at any moment leaves either the previous or the new checkpoint, never a
// mix. It holds the weights (Keras names), the optimizer slots ('optimizer/<key>/<slot>'), the best
// weights so far when --restore-best is on ('best/<name>'), and in its metadata the run state: where
// training stands (epochs done, or a step inside an epoch after Ctrl-C), the optimizer phase and step
// count, early-stopping counters, the best epoch, and the history. model.safetensors, history.json,
// config.json and curves.html are views for the user, rewritten after each checkpoint.
import { readFile } from 'node:fs/promises';
import { writeAtomic } from '../util/atomic-write.js';
import { parseSafetensors, serializeSafetensors, type HistoryRow, type Phase, type RecipeState, type WeightMap } from '@mnv2/core';

/** The run state is the recipe's (`transferLearning` in core): stored as JSON in the metadata. */
export type RunState = RecipeState;
export type { Phase, HistoryRow };

export async function writeCheckpoint(path: string, weights: WeightMap, slots: WeightMap, best: WeightMap | null, state: RunState): Promise<void> {
  const all: WeightMap = new Map(weights);
  for (const [k, v] of slots) all.set(`optimizer/${k}`, v);
  if (best) for (const [k, v] of best) all.set(`best/${k}`, v);
  // Infinity (early-stopping best before any epoch) is not JSON: stored as null.
  await writeAtomic(path, serializeSafetensors(all, { format: 'mnv2-checkpoint', state: JSON.stringify(state) }));
}

export interface LoadedCheckpoint {
  state: RunState;
  weights: WeightMap;
  slots: Record<string, Float32Array>;
  best: WeightMap | null;
}

export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const st = parseSafetensors(await readFile(path), path);
  if (st.metadata.format !== 'mnv2-checkpoint' || !st.metadata.state) throw new Error(`${path} is not an mnv2 training checkpoint (no run state in its metadata)`);
  let state: RunState;
  try {
    state = JSON.parse(st.metadata.state) as RunState;
  } catch (err) {
    throw new Error(`${path}: the run state in its metadata is not valid JSON (${(err as Error).message})`);
  }
  const weights: WeightMap = new Map();
  const best: WeightMap = new Map();
  const slots: Record<string, Float32Array> = {};
  for (const [k, v] of st.weights) {
    if (k.startsWith('optimizer/')) slots[k.slice('optimizer/'.length)] = v.data;
    else if (k.startsWith('best/')) best.set(k.slice('best/'.length), v);
    else weights.set(k, v);
  }
  return { state, weights, slots, best: best.size ? best : null };
}
