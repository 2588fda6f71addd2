// The byte budget of a run's GPU caches (uint8 input cache, feature caches), from `--cache-budget`
// or from host memory. On a software adapter (lavapipe) device memory is host memory, and on a
// discrete GPU the caches also pass through host staging, so a quarter of the host's RAM, at most
// 4 GiB, is the default: small datasets are cached, large ones stream in flat memory.
import { totalmem } from 'node:os';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, kb: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gb: 2 ** 30, gib: 2 ** 30 };

/** Parses `512M`, `2G`, `1.5GiB`, `0` (always stream) or a plain byte count. */
export function parseBytes(text: string, what = '--cache-budget'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`${what} must be a size such as 512M, 2G or 0 (bytes; K/M/G are binary units), got '${text}'`);
  return Math.floor(Number(m[1]) * unit);
}

/** Default cache budget: a quarter of host memory, at most 4 GiB. */
export function defaultCacheBudget(): number {
  return Math.min(Math.floor(totalmem() / 4), 4 * 2 ** 30);
}
