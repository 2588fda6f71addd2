// examples/few-shot runs end to end in small mode: 8 training images per class, all but the top 4
// base layers frozen.
import { describe, it, expect } from 'vitest';
import { GPU } from '../helpers/gpu.js';
import { runExample, finite01 } from './run-example.js';

describe(`${GPU} examples/few-shot`, () => {
  it('runs with --small: top-4-layer fine-tuning, test accuracy reported', async () => {
    const r = await runExample('few-shot', ['--small']);
    console.log(`[examples/few-shot --small] ${r.seconds.toFixed(1)} s; ${JSON.stringify(r.result)}`);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('trainable base layers: block_16_project_BN, Conv_1, Conv_1_bn, out_relu');
    const res = r.result!;
    expect(res.trainImages).toBe(16);
    expect(res.testImages).toBe(16);
    expect(finite01(res.testAccuracy)).toBe(true);
    expect((res.valAccuracy as number[]).length).toBe(2);
  });
});
