// Prints how many GPU tests (names under a 'gpu:' describe) ran and passed, so a green run that
// tested nothing on the adapter is visible — and fails the run when none ran.
import type { Reporter, TestModule } from 'vitest/node';

export default class GpuCountReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let ran = 0;
    let passed = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        if (!t.fullName.includes('gpu:')) continue;
        const s = t.result().state;
        if (s === 'passed' || s === 'failed') ran++;
        if (s === 'passed') passed++;
      }
    }
    console.log(`\n[mnv2] GPU tests executed on the WebGPU adapter: ${ran} (${passed} passed)`);
    if (ran === 0 && modules.length > 0 && !process.env.MNV2_ALLOW_NO_GPU_TESTS) {
      console.log('[mnv2] no GPU test ran: this run proves nothing about the kernels.');
      process.exitCode = 1;
    }
  }
}
