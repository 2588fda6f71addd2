// examples/cifar10 runs end to end in small mode on CIFAR-10 binary files written in the real record
// format (encodeCifar10) from real photos resized to 32x32.
import { describe, it, expect } from 'vitest';
import { rmSync } from 'node:fs';
import { GPU } from '../helpers/gpu.js';
import { cifarFolder } from './fixtures.js';
import { runExample, finite01 } from './run-example.js';

describe(`${GPU} examples/cifar10`, () => {
  it('runs with --small: frozen base + Dense(128, relu) + Dense(10, softmax), then fine-tuning; prints test accuracy', async () => {
    const data = await cifarFolder(40, 20);
    try {
      const r = await runExample('cifar10', ['--small', '--data', data]);
      console.log(`[examples/cifar10 --small] ${r.seconds.toFixed(1)} s; ${JSON.stringify(r.result)}`);
      expect(r.code, r.output).toBe(0);
      const res = r.result!;
      expect(res.trainImages).toBe(80);
      expect(res.testImages).toBe(40);
      expect(r.output).toMatch(/Test accuracy: \d\.\d{4}/);
      expect(r.output).toContain('Trainable params: 165,258'); // 1280·128 + 128 + 128·10 + 10
      expect(finite01(res.testAccuracy)).toBe(true);
      expect((res.valAccuracy as number[]).length).toBe(3);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
