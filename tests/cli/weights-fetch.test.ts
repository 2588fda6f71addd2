// `mnv2 weights fetch` against a local HTTP server (node:http on 127.0.0.1, random port) serving a
// Keras-layout .h5 fixture: full download, resume after a dropped connection (next run, and retried
// within one run), 404, network failure, invalid alpha/size, a copy in a fake ~/.keras/models used
// without downloading, and the final file never existing half-written (abort, SIGINT, SIGKILL).
import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach, vi } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kerasWeightsFileName } from '@mnv2/core';
import { defaultCacheDir, fetchKerasWeights, FetchError, kerasModelsDir, kerasWeightsUrl, type FetchWeightsOptions } from '../../packages/cli/src/weights/fetch.js';
import { weights as weightsCommand } from '../../packages/cli/src/commands/weights.js';
import { formatBytes, formatDuration, Progress } from '../../packages/cli/src/util/progress.js';
import { kerasFixture, type KerasFixture } from '../io/h5-fixture.js';

const ALPHA = 0.35;
const SIZE = 96;
const FILE = kerasWeightsFileName(ALPHA, SIZE, false);

interface ServerState {
  /** Requests to cut off after half their body (then the connection is destroyed). */
  drop: number;
  /** Send half the body, then hang (never end). */
  stall: boolean;
  /** Answer Range requests with the whole file (200). */
  ignoreRange: boolean;
  requests: { url: string; range?: string }[];
  hanging: ServerResponse[];
}

interface TestServer {
  base: string;
  state: ServerState;
  files: Map<string, Uint8Array>;
  close(): Promise<void>;
}

/** A static file server with Range support and fault injection. */
async function startServer(files: Map<string, Uint8Array>): Promise<TestServer> {
  const state: ServerState = { drop: 0, stall: false, ignoreRange: false, requests: [], hanging: [] };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests.push({ url: req.url ?? '', range: req.headers.range });
    const name = decodeURIComponent((req.url ?? '').replace(/^\/models\//, ''));
    const body = files.get(name);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !state.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'accept-ranges': 'bytes' });
    } else res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
    const rest = body.subarray(start);
    const half = Math.floor(rest.length / 2);
    if (state.drop > 0) {
      state.drop--;
      res.write(rest.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 30));
      return;
    }
    if (state.stall) {
      res.write(rest.subarray(0, half));
      state.hanging.push(res);
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}/models/`,
    state,
    files,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of state.hanging) r.socket?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('mnv2 weights fetch', () => {
  let fx: KerasFixture;
  let srv: TestServer;
  let tmp: string;
  let cacheDir: string;
  let kerasDir: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    fx = await kerasFixture({ alpha: ALPHA, size: SIZE, includeTop: false, seed: 21 });
    srv = await startServer(new Map([[FILE, fx.bytes]]));
  });
  afterAll(async () => {
    await srv.close();
  });
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-fetch-'));
    cacheDir = join(tmp, 'cache');
    kerasDir = join(tmp, 'keras-models');
    Object.assign(srv.state, { drop: 0, stall: false, ignoreRange: false, requests: [], hanging: [] });
    srv.files.set(FILE, fx.bytes);
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    rmSync(tmp, { recursive: true, force: true });
  });

  const opts = (extra: Partial<FetchWeightsOptions> = {}): FetchWeightsOptions => ({
    alpha: ALPHA,
    size: SIZE,
    includeTop: false,
    cacheDir,
    kerasDir,
    baseUrl: srv.base,
    retryDelayMs: 0,
    ...extra,
  });
  const dest = () => join(cacheDir, FILE);
  const part = () => `${dest()}.part`;

  it('URL is Keras BASE_WEIGHT_PATH + the file name', () => {
    expect(kerasWeightsUrl(1.0, 224, false)).toBe('https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5');
    expect(kerasWeightsUrl(0.5, 128, true, 'http://h/x')).toBe('http://h/x/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_128.h5');
  });

  it('downloads, verifies and caches the file; a second run uses the cache without a request', async () => {
    const logs: string[] = [];
    const r = await fetchKerasWeights(opts({ log: (m) => logs.push(m) }));
    expect(r.source).toBe('download');
    expect(r.path).toBe(dest());
    expect(r.bytes).toBe(fx.bytes.length);
    expect(r.sha256).toBe(sha(fx.bytes));
    expect(r.resumedFrom).toBe(0);
    expect(r.weights.alpha).toBe(ALPHA);
    expect(r.weights.weights.size).toBe(260);
    expect(Buffer.compare(readFileSync(dest()), Buffer.from(fx.bytes))).toBe(0);
    expect(existsSync(part())).toBe(false);
    expect(srv.state.requests).toEqual([{ url: `/models/${FILE}`, range: undefined }]);

    const again = await fetchKerasWeights(opts());
    expect(again.source).toBe('cache');
    expect(again.path).toBe(dest());
    expect(srv.state.requests.length).toBe(1);
  });

  it('resumes an interrupted download on the next run (HTTP Range on the .part file)', async () => {
    srv.state.drop = 1;
    const err = await fetchKerasWeights(opts({ retries: 0 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).kind).toBe('network');
    expect((err as Error).message).toContain(`cannot download ${srv.base}${FILE}`);
    expect((err as Error).message).toContain(`kept in ${part()}; run the command again to resume`);
    expect(existsSync(dest())).toBe(false);
    const have = statSync(part()).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThan(fx.bytes.length);

    const r = await fetchKerasWeights(opts());
    expect(r.source).toBe('download');
    expect(r.resumedFrom).toBe(have);
    expect(srv.state.requests.map((q) => q.range)).toEqual([undefined, `bytes=${have}-`]);
    expect(Buffer.compare(readFileSync(dest()), Buffer.from(fx.bytes))).toBe(0);
    expect(existsSync(part())).toBe(false);
  });

  it('retries a dropped connection within one run, resuming where it stopped', async () => {
    srv.state.drop = 2;
    const logs: string[] = [];
    const r = await fetchKerasWeights(opts({ log: (m) => logs.push(m) }));
    expect(r.source).toBe('download');
    const ranges = srv.state.requests.map((q) => q.range);
    expect(ranges.length).toBe(3);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(ranges[2]).toMatch(/^bytes=\d+-$/);
    expect(logs.filter((l) => l.includes('retrying')).length).toBe(2);
    expect(Buffer.compare(readFileSync(dest()), Buffer.from(fx.bytes))).toBe(0);
  });

  it('a server that ignores Range (200) restarts the file cleanly', async () => {
    srv.state.drop = 1;
    srv.state.ignoreRange = true;
    const r = await fetchKerasWeights(opts());
    expect(srv.state.requests.length).toBe(2);
    expect(Buffer.compare(readFileSync(dest()), Buffer.from(fx.bytes))).toBe(0);
    expect(r.sha256).toBe(sha(fx.bytes));
  });

  it('HTTP 404: names the URL and how to place the file by hand; nothing is written', async () => {
    srv.files.delete(FILE);
    const err = await fetchKerasWeights(opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).kind).toBe('http');
    expect((err as FetchError).status).toBe(404);
    expect((err as Error).message).toContain(`${srv.base}${FILE}: HTTP 404 Not Found`);
    expect((err as Error).message).toContain(`place it at ${dest()}`);
    expect(existsSync(dest())).toBe(false);
    expect(existsSync(part())).toBe(false);
  });

  it('network failure: names the URL, the cause, and the cache folder for a manual copy', async () => {
    const dead = await startServer(new Map());
    const deadBase = dead.base;
    await dead.close();
    const err = await fetchKerasWeights(opts({ baseUrl: deadBase })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).kind).toBe('network');
    const msg = (err as Error).message;
    expect(msg).toContain(`cannot download ${deadBase}${FILE}`);
    expect(msg).toMatch(/ECONNREFUSED/);
    expect(msg).toContain(`download the file elsewhere and place it at ${dest()} (or in ${kerasDir})`);
  });

  it('invalid alpha or size lists the valid ones (library and command)', async () => {
    const err = await fetchKerasWeights(opts({ alpha: 0.6 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).kind).toBe('invalid');
    expect((err as Error).message).toContain('Valid: alpha 0.35, 0.5, 0.75, 1.0, 1.3, 1.4; size 96, 128, 160, 192, 224');
    await expect(weightsCommand(['fetch', '--alpha', '1.0', '--size', '200', '--cache-dir', cacheDir, '--base-url', srv.base])).rejects.toThrow(
      /size 200 is not one Keras publishes.*Valid: alpha 0\.35, 0\.5, 0\.75, 1\.0, 1\.3, 1\.4; size 96, 128, 160, 192, 224/,
    );
    expect(srv.state.requests.length).toBe(0);
  });

  it("uses a copy in ~/.keras/models (HOME set to a temp dir) without downloading", async () => {
    const home = join(tmp, 'home');
    mkdirSync(join(home, '.keras', 'models'), { recursive: true });
    writeFileSync(join(home, '.keras', 'models', FILE), fx.bytes);
    process.env.HOME = home;
    delete process.env.KERAS_HOME;
    delete process.env.MNV2_CACHE;
    delete process.env.XDG_CACHE_HOME;
    expect(kerasModelsDir()).toBe(join(home, '.keras', 'models'));
    expect(defaultCacheDir()).toBe(join(home, '.cache', 'mnv2', 'weights'));
    const r = await fetchKerasWeights({ alpha: ALPHA, size: SIZE, includeTop: false, baseUrl: srv.base });
    expect(r.source).toBe('keras');
    expect(r.path).toBe(join(home, '.keras', 'models', FILE));
    expect(srv.state.requests.length).toBe(0);
    expect(existsSync(join(home, '.cache', 'mnv2', 'weights', FILE))).toBe(false);

    // A broken Keras copy is not used: it downloads into the cache instead.
    writeFileSync(join(home, '.keras', 'models', FILE), fx.bytes.subarray(0, 1000));
    const logs: string[] = [];
    const r2 = await fetchKerasWeights({ alpha: ALPHA, size: SIZE, includeTop: false, baseUrl: srv.base, log: (m) => logs.push(m) });
    expect(r2.source).toBe('download');
    expect(r2.path).toBe(join(home, '.cache', 'mnv2', 'weights', FILE));
    expect(logs.join('\n')).toMatch(/Keras' copy .* is not usable .*truncated/);
  });

  it('$MNV2_CACHE is the default cache folder', () => {
    process.env.MNV2_CACHE = join(tmp, 'env-cache');
    expect(defaultCacheDir()).toBe(join(tmp, 'env-cache'));
  });

  it('aborting mid-download leaves only the .part (never a half-written final file); the next run resumes', async () => {
    srv.state.stall = true;
    const ctl = new AbortController();
    const err = await fetchKerasWeights(
      opts({
        signal: ctl.signal,
        onProgress: (p) => {
          if (p.received > 0) ctl.abort();
        },
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).kind).toBe('aborted');
    expect((err as Error).message).toContain('kept in');
    expect(existsSync(dest())).toBe(false);
    expect(statSync(part()).size).toBeGreaterThan(0);

    srv.state.stall = false;
    const r = await fetchKerasWeights(opts());
    expect(r.resumedFrom).toBeGreaterThan(0);
    expect(Buffer.compare(readFileSync(dest()), Buffer.from(fx.bytes))).toBe(0);
  });

  it('a stalled connection times out and resumes', async () => {
    srv.state.stall = true;
    let requests = 0;
    const r = await fetchKerasWeights(
      opts({
        stallTimeoutMs: 300,
        log: (m) => {
          if (m.includes('retrying')) {
            requests++;
            srv.state.stall = false;
          }
        },
      }),
    );
    expect(requests).toBe(1);
    expect(srv.state.requests[1].range).toMatch(/^bytes=\d+-$/);
    expect(Buffer.compare(readFileSync(r.path), Buffer.from(fx.bytes))).toBe(0);
  });

  it('a download that is not the expected weights is removed, never cached', async () => {
    srv.files.set(FILE, new TextEncoder().encode('<!DOCTYPE html><html><body>Quota exceeded</body></html>'));
    const err = await fetchKerasWeights(opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).kind).toBe('verify');
    expect((err as Error).message).toContain(`downloaded ${srv.base}${FILE} but it is not the expected file`);
    expect((err as Error).message).toContain('HTML');
    expect(existsSync(dest())).toBe(false);
    expect(existsSync(part())).toBe(false);

    // Right bytes, wrong width: verification against the requested alpha catches it.
    const other = await kerasFixture({ alpha: 0.5, size: SIZE, includeTop: false, seed: 2 });
    srv.files.set(FILE, other.bytes);
    const err2 = await fetchKerasWeights(opts()).catch((e: unknown) => e);
    expect((err2 as Error).message).toContain('expected alpha 0.35 but the weights are Keras MobileNetV2 alpha=0.5');
    expect(existsSync(dest())).toBe(false);
  });

  it('--sha256: a mismatch is refused, the right hash passes', async () => {
    const err = await fetchKerasWeights(opts({ sha256: '0'.repeat(64) })).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`SHA-256 is ${sha(fx.bytes)}, expected ${'0'.repeat(64)}`);
    expect(existsSync(dest())).toBe(false);
    const r = await fetchKerasWeights(opts({ sha256: sha(fx.bytes).toUpperCase() }));
    expect(r.source).toBe('download');
  });

  it('a stale .part that does not verify is downloaded again from the start', async () => {
    mkdirSync(cacheDir, { recursive: true });
    // Same length prefix as a real partial, but garbage: the resumed file cannot verify.
    writeFileSync(part(), new Uint8Array(1000).fill(1));
    const logs: string[] = [];
    const r = await fetchKerasWeights(opts({ log: (m) => logs.push(m) }));
    expect(logs.join('\n')).toContain('downloading it from the start');
    expect(r.resumedFrom).toBe(0);
    expect(Buffer.compare(readFileSync(dest()), Buffer.from(fx.bytes))).toBe(0);
  });

  it('the command prints the path on stdout and a summary on stderr', async () => {
    process.env.KERAS_HOME = join(tmp, 'no-keras');
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await weightsCommand(['fetch', '--alpha', '0.35', '--size', '96', '--no-top', '--cache-dir', cacheDir, '--base-url', srv.base]);
      expect(code).toBe(0);
      expect(out.mock.calls).toEqual([[dest()]]);
      const stderr = err.mock.calls.map((c) => String(c[0])).join('');
      expect(stderr).toContain(`downloaded: ${FILE}`);
      expect(stderr).toContain(`sha256 ${sha(fx.bytes)}; alpha 0.35, no top, 260 tensors`);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});

describe('progress bar', () => {
  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(14 * 1024 * 1024)).toBe('14.0 MiB');
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
  });

  it('on a TTY: redraws one line with bar, %, sizes, rate and ETA; done() prints the total', () => {
    let t = 0;
    const chunks: string[] = [];
    const p = new Progress({ label: 'w.h5', total: 10 * 1024 * 1024, unit: 'bytes', stream: { write: (s: string) => chunks.push(s), isTTY: true, columns: 120 }, now: () => t });
    t = 1000;
    p.update(2 * 1024 * 1024);
    const line = chunks[chunks.length - 1];
    expect(line.startsWith('\r')).toBe(true);
    expect(line).toContain('w.h5 [#####...................]  20.0% 2.00 MiB/10.0 MiB 2.00 MiB/s ETA 4s');
    t = 1050; // throttled: no redraw within 100 ms
    p.update(3 * 1024 * 1024);
    expect(chunks.length).toBe(1);
    t = 5000;
    p.update(10 * 1024 * 1024);
    p.done();
    expect(chunks[chunks.length - 1]).toBe('w.h5 [########################] 100% 10.0 MiB/10.0 MiB 2.00 MiB/s in 5s\n');
  });

  it('not a TTY: a plain line at each quarter, nothing in between; a resumed start is not counted in the rate', () => {
    let t = 0;
    const lines: string[] = [];
    const p = new Progress({ label: 'f', total: 1000, unit: 'bytes', stream: { write: (s: string) => lines.push(s) }, now: () => t, initial: 400 });
    for (let v = 410; v <= 1000; v += 10) {
      t += 100;
      p.update(v);
    }
    p.done();
    expect(lines.length).toBe(3); // 50%, 75%, final
    expect(lines[0]).toMatch(/^f \[#+\.+\]  50\.0% 500 B\/1000 B 100 B\/s ETA 5s\n$/);
    expect(lines[2]).toMatch(/100% 1000 B\/1000 B 100 B\/s in 6s\n$/);
    expect(lines.every((l) => !l.includes('\r'))).toBe(true);
  });
});

describe('mnv2 weights fetch as a process', () => {
  // The command bundled with esbuild (TypeScript sources, @mnv2/* from src), run by node.
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const outDir = join(root, 'node_modules', '.cache', 'mnv2-tests');
  const cli = join(outDir, `weights-cli-${process.pid}.mjs`);
  let fx: KerasFixture;
  let srv: TestServer;
  let tmp: string;

  beforeAll(async () => {
    const { build } = await import('esbuild');
    mkdirSync(outDir, { recursive: true });
    await build({
      stdin: {
        contents: `import { weights } from './packages/cli/src/commands/weights.ts';
weights(process.argv.slice(2)).then((c) => process.exit(c), (e) => { console.error('mnv2: ' + e.message); process.exit(1); });`,
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: cli,
      logLevel: 'silent',
      plugins: [
        {
          name: 'workspace',
          setup(b) {
            b.onResolve({ filter: /^@mnv2\/(core|kernels)$/ }, (a) => ({ path: join(root, 'packages', a.path.slice(6), 'src', 'index.ts') }));
            b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith('@mnv2/') ? undefined : { path: a.path, external: true }));
          },
        },
      ],
    });
    fx = await kerasFixture({ alpha: ALPHA, size: SIZE, includeTop: false, seed: 33 });
    srv = await startServer(new Map([[FILE, fx.bytes]]));
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-fetch-proc-'));
  });
  afterAll(async () => {
    await srv?.close();
    rmSync(cli, { force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function run(args: string[], onStart?: (child: ReturnType<typeof spawn>) => void) {
    const child = spawn(process.execPath, [cli, 'fetch', '--alpha', '0.35', '--size', '96', '--no-top', '--cache-dir', join(tmp, 'cache'), '--base-url', srv.base, ...args], {
      env: { ...process.env, KERAS_HOME: join(tmp, 'no-keras'), HOME: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    onStart?.(child);
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
    );
  }

  const waitFor = async (cond: () => boolean, ms = 10_000) => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('SIGKILL mid-download leaves only the .part; SIGINT exits 130 keeping it; the next run resumes and prints the path', async () => {
    const dest = join(tmp, 'cache', FILE);
    const part = `${dest}.part`;
    const partSize = () => (existsSync(part) ? statSync(part).size : 0);
    srv.state.stall = true;

    const killed = await run([], (child) => {
      void waitFor(() => partSize() > 0).then(() => child.kill('SIGKILL'));
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(dest)).toBe(false);
    const afterKill = partSize();
    expect(afterKill).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(fx.bytes.length);

    // SIGINT: cancelled cleanly, exit code 130, the .part kept (it already had everything the stalled server sends).
    const interrupted = await run([], (child) => {
      void waitFor(() => srv.state.requests.length >= 2).then(() => setTimeout(() => child.kill('SIGINT'), 200));
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('cancelled');
    expect(interrupted.stderr).toContain(`kept in ${part}`);
    expect(existsSync(dest)).toBe(false);
    expect(partSize()).toBeGreaterThanOrEqual(afterKill);

    srv.state.stall = false;
    const done = await run([]);
    expect(done.code).toBe(0);
    expect(done.stdout.trim()).toBe(dest);
    expect(done.stderr).toContain('resuming');
    expect(done.stderr).toMatch(/downloaded \(resumed at [\d.]+ [KM]iB\)/);
    expect(Buffer.compare(readFileSync(dest), Buffer.from(fx.bytes))).toBe(0);
    expect(existsSync(part)).toBe(false);
  });

  it('exit code 1 and a one-line error for a 404', async () => {
    const r = await run(['--alpha', '1.4', '--size', '224']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mnv2: ');
    expect(r.stderr).toContain('HTTP 404 Not Found');
    expect(r.stdout).toBe('');
  });
});
