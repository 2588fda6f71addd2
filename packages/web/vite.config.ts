// The demo app (demo/index.html: classify + teach + adapter panel; demo/bench.html: kernel benchmark),
// built to dist-demo/. `npm run web` (repo root) starts the dev server on http://localhost:5173 and
// serves a development checkout's shared weights and datasets at /weights and /datasets.
import { defineConfig, type Plugin } from 'vite';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { extname, join, normalize, resolve } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const src = (p: string) => resolve(here, `../${p}/src/index.ts`);
const SHARED = resolve(here, '../../../shared');

const TYPES: Record<string, string> = { '.json': 'application/json', '.txt': 'text/plain', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.bmp': 'image/bmp' };

/** /weights/* and /datasets/* from ../shared (read-only; never copied into the repo). */
function sharedFiles(): Plugin {
  const handler = (req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    const m = /^\/(weights|datasets)\/(.+)$/.exec(url);
    if (!m) return next();
    const base = join(SHARED, m[1]);
    const file = normalize(join(base, m[2]));
    if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end(`not found: ${url}`);
      return;
    }
    res.setHeader('content-type', TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('content-length', String(statSync(file).size));
    createReadStream(file).pipe(res);
  };
  return {
    name: 'mnv2-shared-files',
    configureServer: (s) => void s.middlewares.use(handler),
    configurePreviewServer: (s) => void s.middlewares.use(handler),
  };
}

export default defineConfig({
  root: resolve(here, 'demo'),
  base: './',
  resolve: { alias: { '@mnv2/kernels': src('kernels'), '@mnv2/core': src('core') } },
  plugins: [sharedFiles()],
  worker: { format: 'es' },
  build: {
    outDir: resolve(here, 'dist-demo'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { index: resolve(here, 'demo/index.html'), bench: resolve(here, 'demo/bench.html') } },
  },
  server: { port: 5173, fs: { allow: [resolve(here, '../..')] } },
  preview: { port: 5173 },
});
