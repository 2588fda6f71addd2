// End-to-end harness for the web package: builds the demo when its output is missing or older than the
// sources, serves it on localhost with the shared weights/datasets (a tiny Node http server), and
// launches Debian's Chromium (never a downloaded browser) with WebGPU on SwiftShader.
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED = resolve(ROOT, '../shared');
export const WEB = join(ROOT, 'packages/web');
export const DIST_DEMO = join(WEB, 'dist-demo');
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
export const CHROMIUM = process.env.MNV2_CHROMIUM ?? '/usr/bin/chromium';

export const SETUP_HINT = 'run `bash scripts/setup.sh` (it installs Debian\'s chromium through scripts/setup-chromium.sh), or point MNV2_CHROMIUM at a Chromium/Chrome 113+ binary';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function newestMtime(dir: string): number {
  let t = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) t = Math.max(t, newestMtime(p));
    else t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

export const DIST_LIB = join(WEB, 'dist');

/**
 * Builds packages/web/dist-demo (the demo) and packages/web/dist/index.js (the library) when missing or
 * older than the web/core/kernels sources (`turbo run build` normally did it already).
 */
export function ensureDemoBuilt(): { built: string[]; seconds: number } {
  const sources = ['packages/web/src', 'packages/web/demo', 'packages/core/src', 'packages/kernels/src'].map((d) => join(ROOT, d));
  const newest = Math.max(...sources.map(newestMtime), statSync(join(WEB, 'vite.config.ts')).mtimeMs, statSync(join(WEB, 'vite.lib.config.ts')).mtimeMs);
  const stale = (f: string) => !existsSync(f) || statSync(f).mtimeMs < newest;
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
  const t0 = Date.now();
  const built: string[] = [];
  for (const [what, out, args] of [
    ['demo', join(DIST_DEMO, 'index.html'), ['build']],
    ['library', join(DIST_LIB, 'index.js'), ['build', '-c', 'vite.lib.config.ts']],
  ] as const) {
    if (!stale(out)) continue;
    try {
      execFileSync(process.execPath, [vite, ...args, '--logLevel', 'error'], { cwd: WEB, stdio: 'pipe' });
    } catch (e) {
      const err = e as { stderr?: Buffer; stdout?: Buffer };
      throw new Error(`building the web ${what} (vite ${args.join(' ')} in packages/web) failed:\n${err.stderr?.toString() ?? ''}${err.stdout?.toString() ?? ''}`);
    }
    built.push(what);
  }
  return { built, seconds: (Date.now() - t0) / 1000 };
}

/** A page that uses the built library as any site would: `import { loadModel } from '/lib/index.js'`. */
const LIB_PAGE = `<!doctype html><meta charset="utf-8"><title>@mnv2/web library</title><pre id="out">loading…</pre>
<script type="module">
import { loadModel, checkWebGPU } from '/lib/index.js';
const out = document.getElementById('out');
try {
  const c = checkWebGPU();
  if (!c.ok) throw new Error(c.message);
  const model = await loadModel('/weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', { labels: '/weights/labels/imagenet_class_index.json' });
  const cat = await (await fetch('/datasets/coral_test_images/cat.bmp')).blob();
  const [r] = await model.classify([cat]);
  window.libResult = { top: r.top };
  out.textContent = r.top.map((p) => p.label + ' ' + p.probability.toFixed(3)).join('\\n');
} catch (e) {
  window.libResult = { error: String(e && e.message || e) };
  out.textContent = 'error: ' + window.libResult.error;
}
</script>`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.bmp': 'image/bmp',
  '.txt': 'text/plain',
};

export interface TestServer {
  url: string;
  server: Server;
  /** Requests per path (the cache test counts weight downloads). */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Serves dist-demo at /, the built library at /lib/* (and /lib-test.html, a page using it), read-only
 * /weights/* and /datasets/* from ../shared, and /artifacts/* (files the tests write, e.g. a
 * safetensors copy of the ImageNet weights). Extra routes for the
 * failure tests: /corrupt/truncated.tflite (the first half of the real TFLite file) and
 * /corrupt/not-weights.safetensors (an HTML page).
 */
export async function startServer(): Promise<TestServer> {
  const hits = new Map<string, number>();
  const tflite = join(SHARED, 'weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite');
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/corrupt/truncated.tflite') {
      const b = readFileSync(tflite);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(b.length >> 1) });
      res.end(b.subarray(0, b.length >> 1));
      return;
    }
    if (path === '/corrupt/not-weights.safetensors') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>404 page of some CDN</body></html>');
      return;
    }
    if (path === '/lib-test.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(LIB_PAGE);
      return;
    }
    const m = /^\/(weights|datasets|artifacts|lib)\/(.+)$/.exec(path);
    const base = m ? (m[1] === 'artifacts' ? ARTIFACTS.replace(/\/$/, '') : m[1] === 'lib' ? DIST_LIB : join(SHARED, m[1])) : DIST_DEMO;
    const file = normalize(join(base, m ? m[2] : path === '/' ? 'index.html' : path));
    if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', 'content-length': String(statSync(file).size) });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`, // a secure context like localhost, without IPv6 lookups
    server,
    hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface Browser {
  context: BrowserContext;
  /** The profile folder (its path is on the browser process's command line). */
  profile: string;
  close(): Promise<void>;
}

/** Chromium with a fresh profile (tmp user-data-dir), WebGPU on SwiftShader. Fails with a setup hint when missing. */
export async function launchChromium(extraArgs: string[] = [], opts: { webgpu?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: ${SETUP_HINT}`);
  const dir = mkdtempSync(join(tmpdir(), 'mnv2-chromium-'));
  const args = (opts.webgpu === false ? CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu') : CHROMIUM_ARGS).concat(extraArgs);
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args, acceptDownloads: true, viewport: { width: 1100, height: 900 } });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start Chromium (${CHROMIUM}): ${(e as Error).message.split('\n')[0]}. ${SETUP_HINT}`);
  }
  return {
    context,
    profile: dir,
    close: async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The hooks of a test file that drives the demo page: builds it if needed, serves it, starts
 * Chromium (before all), closes both (after all). A setup failure is kept and thrown by `open` with
 * the setup hint, so each test fails loudly instead of being skipped behind a failed hook.
 */
export function demoPageSuite(hooks: { beforeAll: (fn: () => Promise<void>, timeout?: number) => void; afterAll: (fn: () => Promise<void>) => void }): { open(query?: string): Promise<Page> } {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  let setupError: Error | null = null;
  hooks.beforeAll(async () => {
    try {
      ensureDemoBuilt();
      server = await startServer();
      browser = await launchChromium();
    } catch (e) {
      setupError = e instanceof Error ? e : new Error(String(e));
    }
  }, 180_000);
  hooks.afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  return {
    async open(query = '') {
      if (setupError || !browser || !server) throw new Error(`${setupError?.message ?? 'the browser did not start'}\n${SETUP_HINT}`);
      const page = await browser.context.newPage();
      await page.goto(`${server.url}/${query}`);
      await page.waitForFunction(() => {
        const d = (globalThis as unknown as { mnv2demo?: { ready: boolean; errors: string[] } }).mnv2demo;
        return !!d && (d.ready || d.errors.length > 0);
      }, undefined, { timeout: 90_000 });
      return page;
    },
  };
}
