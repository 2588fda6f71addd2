// MNV2_STATS_FILE: a command's peak memory and time as JSON, for the benchmarks that run it in a
// child process ('mnv2 bench scale'); the process's own maximum RSS and the engine pool's peak.
import type { Engine } from '@mnv2/core';
import { writeAtomic } from './atomic-write.js';

export async function writeStatsFile(e: Engine, startedMs: number, extra: Record<string, unknown> = {}): Promise<void> {
  const file = process.env.MNV2_STATS_FILE;
  if (!file) return;
  const stats = { seconds: (Date.now() - startedMs) / 1000, maxRssBytes: process.resourceUsage().maxRSS * 1024, devicePeakBytes: e.pool.peakBytes, ...extra };
  await writeAtomic(file, JSON.stringify(stats, null, 2) + '\n');
}
