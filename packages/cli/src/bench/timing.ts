// Wall-clock timing of recorded GPU work: record the op `n` times into the engine's single pass,
// `await engine.sync()` (submit + a wait that lets the main thread sleep), divide by n. The first
// call compiles pipelines and is not counted; n is picked so one repeat lasts at least `minMs`
// (dispatch and wait overheads then stay small); the result is the median of `repeats` repeats.
import type { Engine } from '@mnv2/core';

export interface TimingOptions {
  /** Repeats after the warm-up; the median is reported. */
  repeats: number;
  /** Minimum wall time of one repeat (ms). */
  minMs: number;
  /** Upper bound on records per repeat. */
  maxN?: number;
}

export interface Timing {
  /** Median ms per run. */
  ms: number;
  /**
   * Median process CPU ms (user + system, all threads: a software adapter's workers run in this
   * process) per run, where measured. On a shared host it is less inflated than wall time by other
   * processes' load (waiting for a core costs no CPU time).
   */
  cpuMs?: number;
  /** Runs recorded per repeat. */
  n: number;
  /** All repeats (ms per run). */
  samples: number[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function timeRuns(e: Engine, run: () => void, opts: TimingOptions): Promise<Timing> {
  run(); // warm-up: pipeline compilation, pool growth
  await e.sync();
  let t0 = performance.now();
  run();
  await e.sync();
  const once = performance.now() - t0;
  const n = Math.max(1, Math.min(opts.maxN ?? 200, Math.ceil(opts.minMs / Math.max(once, 0.02))));
  const samples: number[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    t0 = performance.now();
    for (let i = 0; i < n; i++) run();
    await e.sync();
    samples.push((performance.now() - t0) / n);
  }
  return { ms: median(samples), n, samples };
}

/**
 * Times several runs against each other: each is warmed up and sized like timeRuns, then the repeats
 * alternate between them (A, B, A, B, ...), so a slow spell of a shared host hits all of them alike.
 * Returns one Timing per run (median of its repeats).
 */
export async function timeInterleaved(e: Engine, runs: (() => void)[], opts: TimingOptions): Promise<Timing[]> {
  const ns: number[] = [];
  for (const run of runs) {
    run();
    await e.sync();
    const t0 = performance.now();
    run();
    await e.sync();
    const once = performance.now() - t0;
    ns.push(Math.max(1, Math.min(opts.maxN ?? 200, Math.ceil(opts.minMs / Math.max(once, 0.02)))));
  }
  const samples: number[][] = runs.map(() => []);
  const cpu: number[][] = runs.map(() => []);
  for (let r = 0; r < opts.repeats; r++) {
    for (let k = 0; k < runs.length; k++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < ns[k]; i++) runs[k]();
      await e.sync();
      samples[k].push((performance.now() - t0) / ns[k]);
      const c = process.cpuUsage(c0);
      cpu[k].push((c.user + c.system) / 1000 / ns[k]);
    }
  }
  return samples.map((s, k) => ({ ms: median(s), cpuMs: median(cpu[k]), n: ns[k], samples: s }));
}
