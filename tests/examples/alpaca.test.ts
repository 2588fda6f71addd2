// examples/alpaca runs end to end in small mode (12 images per class of the shared alpaca set,
// 96x96): curves and history written, the saved model reloads to the same validation accuracy.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPU } from '../helpers/gpu.js';
import { runExample, finite01 } from './run-example.js';

describe(`${GPU} examples/alpaca`, () => {
  it('runs with --small: 2 frozen + 1 fine-tuning epoch, validation curve file, model reload', async () => {
    const r = await runExample('alpaca', ['--small']);
    console.log(`[examples/alpaca --small] ${r.seconds.toFixed(1)} s; ${JSON.stringify(r.result)}`);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('Found 24 files belonging to 2 classes.');
    expect(r.output).toContain('Trainable params: 1,281');
    const res = r.result!;
    expect(res.trainImages).toBe(20);
    expect(res.validationImages).toBe(4);
    const va = res.valAccuracy as number[];
    expect(va.length).toBe(3);
    expect(va.every(finite01)).toBe(true);
    expect(res.reloadedValAccuracy).toBe(res.finalValAccuracy);
    const svg = readFileSync(join(r.out, 'curves.svg'), 'utf8');
    expect(svg).toContain('<polyline');
    expect(svg).toContain('Start Fine Tuning');
    expect(existsSync(join(r.out, 'model.safetensors'))).toBe(true);
  });
});
