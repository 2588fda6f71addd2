// Fetches Keras' official MobileNetV2 ImageNet weights, the files `keras.applications.MobileNetV2(
// weights='imagenet')` downloads: BASE_WEIGHT_PATH + mobilenet_v2_weights_tf_dim_ordering_tf_kernels_
// {alpha}_{size}[_no_top].h5 (keras/src/applications/mobilenet_v2.py; Keras passes no file hash for
// them, so a download is verified by parsing it as Keras MobileNetV2 weights, plus --sha256 when given).
//
//   1. the cache dir ($MNV2_CACHE, else $XDG_CACHE_HOME/mnv2/weights, else ~/.cache/mnv2/weights)
//      already has the file and it parses → done;
//   2. Keras' own cache ($KERAS_HOME/models, else ~/.keras/models) has it and it parses → use it there;
//   3. download to <cache>/<file>.part, resuming a previous .part with an HTTP Range request and
//      retrying dropped connections (and stalls) from where they stopped; then verify, fsync, and
//      rename to <cache>/<file>. The final name only ever holds a complete, verified file.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { importKerasH5, KERAS_ALPHAS, KERAS_INPUT_SIZES, kerasWeightsFileName, type KerasH5Import } from '@mnv2/core';
import { formatBytes, Progress, type ProgressStream } from '../util/progress.js';

export const KERAS_BASE_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/';

export type FetchErrorKind = 'invalid' | 'network' | 'http' | 'verify' | 'aborted' | 'io';

export class FetchError extends Error {
  readonly kind: FetchErrorKind;
  readonly status?: number;
  constructor(kind: FetchErrorKind, message: string, status?: number) {
    super(message);
    this.name = 'FetchError';
    this.kind = kind;
    this.status = status;
  }
}

const fmtAlpha = (a: number) => (Number.isInteger(a) ? a.toFixed(1) : String(a));

/** Throws unless Keras publishes weights for this alpha and size (listing the valid ones). */
export function validateKerasChoice(alpha: number, size: number): void {
  const problems: string[] = [];
  if (!KERAS_ALPHAS.includes(alpha)) problems.push(`alpha ${Number.isFinite(alpha) ? fmtAlpha(alpha) : String(alpha)} is not one Keras publishes`);
  if (!KERAS_INPUT_SIZES.includes(size)) problems.push(`size ${size} is not one Keras publishes`);
  if (problems.length) {
    throw new FetchError(
      'invalid',
      `no Keras MobileNetV2 weights for alpha ${fmtAlpha(alpha)}, size ${size}: ${problems.join('; ')}. Valid: alpha ${KERAS_ALPHAS.map(fmtAlpha).join(', ')}; size ${KERAS_INPUT_SIZES.join(', ')} (every combination, with or without top).`,
    );
  }
}

type Env = Record<string, string | undefined>;

/** Where downloads go: $MNV2_CACHE, else $XDG_CACHE_HOME/mnv2/weights, else ~/.cache/mnv2/weights. */
export function defaultCacheDir(env: Env = process.env, home: string = homedir()): string {
  if (env.MNV2_CACHE) return env.MNV2_CACHE;
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'mnv2', 'weights');
}

/** Keras' download folder: $KERAS_HOME/models, else ~/.keras/models. */
export function kerasModelsDir(env: Env = process.env, home: string = homedir()): string {
  return join(env.KERAS_HOME || join(home, '.keras'), 'models');
}

export interface FetchProgress {
  received: number;
  total?: number;
  /** Bytes that were already in the .part file when this attempt started. */
  resumedFrom: number;
}

export interface FetchWeightsOptions {
  alpha: number;
  size: number;
  includeTop: boolean;
  /** Default defaultCacheDir(). */
  cacheDir?: string;
  /** Default Keras' BASE_WEIGHT_PATH. */
  baseUrl?: string;
  /** Expected SHA-256 (hex) of the file; checked for downloads and cached copies. */
  sha256?: string;
  /** Keras' models folder to look in first (default kerasModelsDir()); null: do not look. */
  kerasDir?: string | null;
  /** Download again even when a cached copy exists. */
  force?: boolean;
  /** Further attempts after a dropped connection, a stall or a 5xx (default 4); each resumes. */
  retries?: number;
  /** Wait before retry k is k × this (default 1000 ms). */
  retryDelayMs?: number;
  /** Give up on an attempt when no byte arrives for this long (default 60 s). */
  stallTimeoutMs?: number;
  /** Cancels the download (the .part file stays, for a later resume). */
  signal?: AbortSignal;
  /** Called as bytes arrive. */
  onProgress?: (p: FetchProgress) => void;
  /** Draw a progress bar on this stream (e.g. process.stderr); none when omitted. */
  progressStream?: ProgressStream;
  /** Messages (cache hits, retries); none when omitted. */
  log?: (message: string) => void;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
}

export interface FetchWeightsResult {
  path: string;
  source: 'cache' | 'keras' | 'download';
  url: string;
  fileName: string;
  bytes: number;
  sha256: string;
  /** Bytes reused from an earlier partial download. */
  resumedFrom: number;
  weights: KerasH5Import;
}

/** The URL of a Keras weights file. */
export function kerasWeightsUrl(alpha: number, size: number, includeTop: boolean, baseUrl = KERAS_BASE_URL): string {
  return `${baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`}${kerasWeightsFileName(alpha, size, includeTop)}`;
}

const exists = async (p: string) => {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
};

const fileSize = async (p: string) => {
  try {
    return (await stat(p)).size;
  } catch {
    return 0;
  }
};

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Reads and checks a complete file: sha256 (when expected) and Keras MobileNetV2 weights of this alpha/top. */
async function verifyFile(path: string, fileName: string, opts: FetchWeightsOptions): Promise<{ sha256: string; weights: KerasH5Import; bytes: number }> {
  const bytes = await readFile(path);
  const sha256 = sha256Hex(bytes);
  if (opts.sha256 && sha256 !== opts.sha256.toLowerCase()) {
    throw new FetchError('verify', `${fileName}: SHA-256 is ${sha256}, expected ${opts.sha256.toLowerCase()}`);
  }
  let weights: KerasH5Import;
  try {
    weights = await importKerasH5(bytes, { file: fileName, alpha: opts.alpha, includeTop: opts.includeTop });
  } catch (e) {
    throw new FetchError('verify', (e as Error).message);
  }
  return { sha256, weights, bytes: bytes.length };
}

/** The cause of a failed fetch, readably (`connect ECONNREFUSED 127.0.0.1:1`, `getaddrinfo ENOTFOUND host`). */
function describeNetworkError(e: unknown): string {
  const err = e as Error & { cause?: Error & { code?: string } };
  const cause = err?.cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return err?.message ?? String(e);
}

class RetryableError extends Error {}

interface AttemptResult {
  total?: number;
  resumedFrom: number;
}

/**
 * One HTTP request into `part`: resumes from its current size with a Range request; appends on 206,
 * starts over on 200. Returns when the body ended with the expected length.
 */
async function attempt(url: string, part: string, opts: FetchWeightsOptions, progress: () => Progress | null, restart: boolean): Promise<AttemptResult> {
  if (restart) await rm(part, { force: true });
  const have = await fileSize(part);
  const fetchImpl = opts.fetch ?? fetch;
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      ctl.abort(new Error('stalled'));
    }, stallMs);
  };
  try {
    arm();
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: ctl.signal, redirect: 'follow' });
    } catch (e) {
      if (opts.signal?.aborted) throw new FetchError('aborted', 'download cancelled');
      if (stalled) throw new RetryableError(`no response from the server in ${stallMs / 1000}s`);
      throw new FetchError('network', describeNetworkError(e));
    }
    if (res.status === 416 && have > 0) {
      // Our .part may already hold everything (Content-Range: bytes */N); else start over.
      const total = Number(/\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '')?.[1]);
      await res.body?.cancel();
      if (total === have) return { total, resumedFrom: have };
      throw new RetryableError(`the server refused to resume at byte ${have} (HTTP 416); starting over`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 404) {
        throw new FetchError('http', `${url}: HTTP 404 Not Found: the server has no such file (check --alpha/--size/--no-top, or --base-url)`, 404);
      }
      if (res.status >= 500 || res.status === 429 || res.status === 408) throw new RetryableError(`HTTP ${res.status} ${res.statusText}`);
      throw new FetchError('http', `${url}: HTTP ${res.status} ${res.statusText}`, res.status);
    }
    let start = 0;
    let total: number | undefined;
    if (res.status === 206) {
      const m = /bytes\s+(\d+)-(\d+)\/(\d+|\*)/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        await res.body?.cancel().catch(() => undefined);
        throw new RetryableError(`the server answered the resume request with an unexpected range (${res.headers.get('content-range')}); starting over`);
      }
      start = have;
      total = m[3] === '*' ? undefined : Number(m[3]);
    } else {
      const len = Number(res.headers.get('content-length'));
      total = Number.isFinite(len) && len > 0 ? len : undefined;
      if (have > 0) opts.log?.(`the server does not resume downloads; starting ${basenameOf(part)} over`);
    }
    if (!res.body) throw new RetryableError('empty response body');

    const fh = await open(part, start > 0 ? 'a' : 'w');
    let received = start;
    const bar = progress();
    if (bar) {
      bar.total = total;
      bar.update(received, total);
    }
    try {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          await fh.write(chunk);
          received += chunk.length;
          bar?.update(received);
          opts.onProgress?.({ received, total, resumedFrom: start });
        }
      } catch (e) {
        if (opts.signal?.aborted) throw new FetchError('aborted', 'download cancelled');
        if (stalled) throw new RetryableError(`no data for ${stallMs / 1000}s`);
        throw new RetryableError(`connection lost after ${formatBytes(received)}: ${describeNetworkError(e)}`);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (total !== undefined && received !== total) {
      throw new RetryableError(`connection closed after ${formatBytes(received)} of ${formatBytes(total)}`);
    }
    return { total, resumedFrom: start };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

const basenameOf = (p: string) => p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);

/** fsync a folder so a rename in it survives a crash (best effort: not every platform allows it). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Windows cannot open folders; the rename is still atomic.
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new FetchError('aborted', 'download cancelled'));
      },
      { once: true },
    );
  });

/** Finds, or downloads, verifies and caches, the Keras MobileNetV2 weights file for alpha/size/top. */
export async function fetchKerasWeights(opts: FetchWeightsOptions): Promise<FetchWeightsResult> {
  validateKerasChoice(opts.alpha, opts.size);
  const fileName = kerasWeightsFileName(opts.alpha, opts.size, opts.includeTop);
  const url = kerasWeightsUrl(opts.alpha, opts.size, opts.includeTop, opts.baseUrl);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const dest = join(cacheDir, fileName);
  const part = `${dest}.part`;
  const log = opts.log ?? (() => undefined);
  const kerasDir = opts.kerasDir === undefined ? kerasModelsDir() : opts.kerasDir;

  // 1. Our cache. 2. Keras' cache.
  if (!opts.force) {
    if (await exists(dest)) {
      try {
        const v = await verifyFile(dest, fileName, opts);
        return { path: dest, source: 'cache', url, fileName, bytes: v.bytes, sha256: v.sha256, resumedFrom: 0, weights: v.weights };
      } catch (e) {
        log(`cached ${dest} is not usable (${(e as Error).message}); downloading it again`);
      }
    }
    if (kerasDir) {
      const kp = join(kerasDir, fileName);
      if (await exists(kp)) {
        try {
          const v = await verifyFile(kp, fileName, opts);
          log(`using Keras' copy ${kp}`);
          return { path: kp, source: 'keras', url, fileName, bytes: v.bytes, sha256: v.sha256, resumedFrom: 0, weights: v.weights };
        } catch (e) {
          log(`Keras' copy ${kp} is not usable (${(e as Error).message}); downloading`);
        }
      }
    }
  }

  // 3. Download.
  try {
    await mkdir(cacheDir, { recursive: true });
  } catch (e) {
    throw new FetchError('io', `cannot create the cache folder ${cacheDir}: ${(e as Error).message} (pass --cache-dir or set MNV2_CACHE)`);
  }
  const initialPart = await fileSize(part);
  if (initialPart > 0) log(`resuming ${fileName} from ${formatBytes(initialPart)} (${part})`);
  let bar: Progress | null = null;
  const progress = () => {
    if (!opts.progressStream) return null;
    bar ??= new Progress({ label: fileName, unit: 'bytes', stream: opts.progressStream, initial: initialPart });
    return bar;
  };
  const manual = `If this machine cannot reach it, download the file elsewhere and place it at ${dest}${kerasDir ? ` (or in ${kerasDir})` : ''}.`;
  const retries = opts.retries ?? 4;
  let restart = false;
  let freshRetryUsed = false;
  let reused = initialPart;
  for (let k = 0; ; k++) {
    try {
      if (restart) reused = 0;
      await attempt(url, part, opts, progress, restart);
      restart = false;
      // Complete: verify before it gets its final name.
      let v;
      try {
        v = await verifyFile(part, fileName, opts);
      } catch (e) {
        const resumed = initialPart > 0 || k > 0;
        if (resumed && !freshRetryUsed) {
          // A stale or corrupt .part from earlier: one clean download.
          freshRetryUsed = true;
          restart = true;
          log(`the resumed download does not verify (${(e as Error).message}); downloading it from the start`);
          continue;
        }
        await rm(part, { force: true });
        throw new FetchError('verify', `downloaded ${url} but it is not the expected file: ${(e as Error).message}. The download was removed.`);
      }
      (bar as Progress | null)?.done();
      await rename(part, dest);
      await syncDir(cacheDir);
      return { path: dest, source: 'download', url, fileName, bytes: v.bytes, sha256: v.sha256, resumedFrom: reused, weights: v.weights };
    } catch (e) {
      const kept = await fileSize(part);
      const keptNote = kept > 0 ? ` ${formatBytes(kept)} received so far are kept in ${part}; run the command again to resume.` : '';
      if (e instanceof RetryableError) {
        if (k < retries) {
          if (e.message.includes('starting over')) restart = true;
          (bar as Progress | null)?.clear();
          log(`${e.message}; retrying (${k + 1}/${retries})`);
          await sleep((opts.retryDelayMs ?? 1000) * (k + 1), opts.signal);
          continue;
        }
        (bar as Progress | null)?.stop();
        throw new FetchError('network', `cannot download ${url}: ${e.message} (after ${retries + 1} attempts).${keptNote} ${manual}`);
      }
      (bar as Progress | null)?.stop();
      if (e instanceof FetchError) {
        if (e.kind === 'network') throw new FetchError('network', `cannot download ${url}: ${e.message}.${keptNote} ${manual}`);
        if (e.kind === 'aborted') throw new FetchError('aborted', `download of ${url} cancelled.${keptNote}`);
        if (e.kind === 'http') throw new FetchError('http', `${e.message}. ${manual}`, e.status);
        throw e;
      }
      throw new FetchError('io', `downloading ${url} to ${part}: ${(e as Error).message}`);
    }
  }
}
