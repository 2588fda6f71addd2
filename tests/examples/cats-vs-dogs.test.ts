// examples/cats-vs-dogs runs end to end in small mode on a folder in the cats_and_dogs_filtered
// layout built in a temp dir (alpaca vs not alpaca); and says where to get the data when it is missing.
import { describe, it, expect } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GPU } from '../helpers/gpu.js';
import { catsDogsFolder } from './fixtures.js';
import { runExample, finite01 } from './run-example.js';

describe(`${GPU} examples/cats-vs-dogs`, () => {
  it('without data: exits 2 and prints the tutorial URL', async () => {
    const r = await runExample('cats-vs-dogs', ['--data', '/nonexistent/cats_and_dogs_filtered']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip');
  });

  it('runs with --small: test split by take/skip, fine-tuning from layer 100, test accuracy and predictions', async () => {
    const data = catsDogsFolder(12, 20);
    try {
      const r = await runExample('cats-vs-dogs', ['--small', '--data', data]);
      console.log(`[examples/cats-vs-dogs --small] ${r.seconds.toFixed(1)} s; ${JSON.stringify(r.result)}`);
      expect(r.code, r.output).toBe(0);
      const res = r.result!;
      expect(res.trainImages).toBe(24);
      // 40 validation images in batches of 8 = 5 batches; take(5 // 5 = 1) → 8 test images, 32 left.
      expect(res.testImages).toBe(8);
      expect(res.validationImages).toBe(32);
      expect(r.output).toContain('Trainable params: 1,862,721'); // Keras' count after fine_tune_at = 100
      expect((res.valAccuracy as number[]).length).toBe(3);
      expect(finite01(res.testAccuracy)).toBe(true);
      expect((res.predictions as number[]).length).toBe(8);
      expect((res.predictions as number[]).every((p) => p === 0 || p === 1)).toBe(true);
      expect(readFileSync(join(r.out, 'curves.svg'), 'utf8')).toContain('Training and Validation Loss');
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
