import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: { '@mnv2/kernels': src('kernels'), '@mnv2/core': src('core') },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // Dawn's native addon wants its own process; one file at a time keeps both cores for lavapipe.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    // Kernel choices must not depend on timing or on a developer's tuning cache: the tuning tests
    // set MNV2_TUNING themselves.
    env: { MNV2_TUNING: 'off' },
    hookTimeout: 120_000,
    reporters: ['default', './tests/helpers/gpu-reporter.ts'],
  },
});
