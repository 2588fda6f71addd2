// One Engine per test file, on the software adapter the setup installs. No adapter = a loud
// failure telling the user what to run: GPU tests never skip silently.
import { createNodeEngine, describeAdapter, SETUP_HINT } from '../../packages/cli/src/node-gpu.js';
import type { Engine } from '@mnv2/core';

let cached: Promise<Engine> | null = null;

export function gpuEngine(): Promise<Engine> {
  cached ??= createNodeEngine()
    .then(({ engine, adapter }) => {
      if (process.env.MNV2_PRINT_ADAPTER) console.log(`[gpu] ${describeAdapter(adapter)}`);
      // A second adapter's pass (npm run test:swiftshader) must really run there, not on a fallback.
      const want = process.env.MNV2_EXPECT_ADAPTER;
      if (want && !describeAdapter(adapter).toLowerCase().includes(want.toLowerCase())) {
        throw new Error(`MNV2_EXPECT_ADAPTER=${want}, but WebGPU gave '${describeAdapter(adapter)}' (is VK_ICD_FILENAMES right? run 'bash scripts/setup.sh')`);
      }
      return engine;
    })
    .catch((e: unknown) => {
      const cause = e instanceof Error ? e.message : String(e);
      throw new Error(cause === SETUP_HINT ? SETUP_HINT : `${SETUP_HINT}\n(cause: ${cause})`);
    });
  return cached;
}

/** Name prefix counted by tests/helpers/gpu-reporter.ts so the run prints how many GPU tests ran. */
export const GPU = 'gpu:';

const forced = new Map<number, Promise<Engine>>();

/**
 * A second engine (its own device) that pretends the adapter binds at most `maxBindingBytes` per
 * buffer, so the paged paths (tensors split along the batch) run on tiny shapes. One per limit.
 */
export function gpuEngineWithBindingLimit(maxBindingBytes: number): Promise<Engine> {
  let p = forced.get(maxBindingBytes);
  if (!p) {
    p = createNodeEngine({ maxBindingBytes })
      .then(({ engine }) => engine)
      .catch((e: unknown) => {
        throw new Error(`${SETUP_HINT}\n(cause: ${e instanceof Error ? e.message : String(e)})`);
      });
    forced.set(maxBindingBytes, p);
  }
  return p;
}
