// Weights for the worker: bytes from a URL (streamed with progress, kept in the Cache API so a second
// visit reads them locally) or from a File the user picked; formats.ts imports them.
import type { LoadProgress } from './protocol.js';

export { WeightsLoadError, sniffFormat, importWeights, type WeightsFormat, type ImportedWeights } from './formats.js';
import { WeightsLoadError } from './formats.js';

export const CACHE_NAME = 'mnv2-weights-v1';

export type WeightsInput = string | ArrayBuffer | Uint8Array | Blob;

export interface FetchedBytes {
  bytes: Uint8Array;
  source: string;
  fromCache: boolean;
  /** Call after a successful import: stores the bytes in the Cache API (no-op for cached/local input). */
  commit: () => Promise<void>;
}

const cacheApi = (): CacheStorage | null => (typeof caches !== 'undefined' ? caches : null);

async function readStream(res: Response, onProgress: ((p: LoadProgress) => void) | undefined, fromCache: boolean): Promise<Uint8Array> {
  const lenHeader = res.headers.get('content-length');
  const total = lenHeader !== null && Number.isFinite(Number(lenHeader)) ? Number(lenHeader) : null;
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ stage: 'download', loaded: b.length, total: b.length, fromCache });
    return b;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  let lastReport = 0;
  onProgress?.({ stage: 'download', loaded: 0, total, fromCache });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    const now = performance.now();
    if (now - lastReport > 50) {
      lastReport = now;
      onProgress?.({ stage: 'download', loaded, total, fromCache });
    }
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  onProgress?.({ stage: 'download', loaded, total: total ?? loaded, fromCache });
  return out;
}

/** The bytes of `input`: a URL (Cache API first, then the network), a Blob/File, or bytes. */
export async function fetchWeights(input: WeightsInput, name: string | undefined, onProgress?: (p: LoadProgress) => void): Promise<FetchedBytes> {
  const noop = async () => {};
  if (typeof input !== 'string') {
    const bytes = input instanceof Blob ? new Uint8Array(await input.arrayBuffer()) : input instanceof Uint8Array ? input : new Uint8Array(input);
    const source = name ?? (input instanceof File ? input.name : '<bytes>');
    onProgress?.({ stage: 'download', loaded: bytes.length, total: bytes.length, fromCache: false });
    return { bytes, source, fromCache: false, commit: noop };
  }
  const url = input;
  const store = cacheApi();
  let cache: Cache | null = null;
  try {
    cache = store ? await store.open(CACHE_NAME) : null;
  } catch {
    cache = null; // e.g. opaque origins: no cache, still works
  }
  const hit = cache ? await cache.match(url) : undefined;
  if (hit) return { bytes: await readStream(hit, onProgress, true), source: url, fromCache: true, commit: noop };
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new WeightsLoadError(`cannot download weights '${url}': ${e instanceof Error ? e.message : String(e)} (is the server reachable?)`);
  }
  if (!res.ok) throw new WeightsLoadError(`cannot download weights '${url}': HTTP ${res.status} ${res.statusText}`.trim());
  const bytes = await readStream(res, onProgress, false);
  const commit = async () => {
    if (!cache) return;
    try {
      await cache.put(url, new Response(bytes.slice().buffer, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } }));
    } catch {
      // quota exceeded or storage disabled: the model still works, it just downloads again next time
    }
  };
  return { bytes, source: url, fromCache: false, commit };
}

/** Removes every cached weights file. */
export async function clearWeightsCache(): Promise<boolean> {
  const store = cacheApi();
  return store ? store.delete(CACHE_NAME) : false;
}

