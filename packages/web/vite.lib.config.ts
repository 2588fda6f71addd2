// The library build: dist/index.js (ES module, the page-side API) plus the engine worker chunk it
// starts with `new Worker(new URL('./worker.ts', import.meta.url))`. Core and kernels are bundled into
// the worker; the page-side module only carries comlink. Declarations come from tsc (tsconfig.build.json).
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const src = (p: string) => resolve(here, `../${p}/src/index.ts`);

export default defineConfig({
  // Relative asset URLs: the worker chunk resolves against import.meta.url wherever dist/ is served.
  base: './',
  resolve: { alias: { '@mnv2/kernels': src('kernels'), '@mnv2/core': src('core') } },
  worker: { format: 'es' },
  build: {
    outDir: resolve(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 4096,
    lib: { entry: resolve(here, 'src/index.ts'), formats: ['es'], fileName: 'index' },
  },
});
