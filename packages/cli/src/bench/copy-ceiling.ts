// The adapter's copy-bandwidth ceiling, measured in the same process as the kernels: y = x by a
// compute kernel (copyByKernel: flat loop, vec4, one load and one store per element) on 1 Mi and
// 4 Mi floats. GB/s counts the bytes read plus the bytes written (8 per float), like the "GB/s"
// column of memory-bound kernels (their compulsory traffic), so "% copy" compares the two.
import { type Engine, copyByKernel } from '@mnv2/core';
import { SetupContext } from './entries.js';
import { type TimingOptions, timeRuns } from './timing.js';

export interface CopyCeilingResult {
  /** Best GB/s over the sizes. */
  gbs: number;
  /** Floats copied → GB/s. */
  all: Record<number, number>;
}

export const COPY_SIZES = [1 << 20, 1 << 22];

export async function copyCeiling(e: Engine, timing: TimingOptions): Promise<CopyCeilingResult> {
  const all: Record<number, number> = {};
  for (const n of COPY_SIZES) {
    const ctx = new SetupContext(e);
    try {
      const x = ctx.rand([n]);
      const t = await timeRuns(e, () => e.tidy(() => void copyByKernel(e, x)), timing);
      all[n] = (8 * n) / (t.ms * 1e6);
    } finally {
      ctx.dispose();
    }
  }
  return { gbs: Math.max(...Object.values(all)), all };
}
