// `--precision f32|f16`: storage type of the network's activations (f16 halves activation memory and
// doubles what fits one binding; arithmetic, weights and logits stay f32). f16 needs the adapter's
// 'shader-f16': createNodeEngine refuses it otherwise with an error naming the adapter.
import type { Precision } from '@mnv2/core';
import type { ParsedArgs } from './args.js';

export const PRECISION_HELP = `  --precision P     f32 (default) or f16: store activations as f16 (half the memory; computed in
                    f32, weights f32). Needs an adapter with 'shader-f16' (lavapipe and most GPUs).`;

export function precisionFlag(args: ParsedArgs, command: string): Precision {
  const v = args.flags.get('precision');
  if (v === undefined) return 'f32';
  if (v === 'f32' || v === 'f16') return v;
  throw new Error(`${command}: --precision must be f32 or f16, got '${String(v)}'`);
}
