// Issue 13 in the browser: the Teach trainer trains from a few hundred images under a small forced
// cache budget (inputs stream from the undecoded files, features are recomputed) and says so.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED, demoPageSuite } from './harness.js';

const ALPACA = join(SHARED, 'datasets/alpaca/dataset');
const demo = demoPageSuite({ beforeAll, afterAll });
const openDemo = (query = '') => demo.open(query);

describe('web trainer under a small cache budget (WebGPU on SwiftShader)', () => {
  it('trains on 240 files: inputs stream, features are recomputed, the plan events say so', async () => {
    const files = (c: string, n: number) => readdirSync(join(ALPACA, c)).sort().slice(0, n).map((f) => `${c}/${f}`);
    const list = [...files('alpaca', 120), ...files('not alpaca', 120)];
    const page = await openDemo();
    const r = await page.evaluate(async (paths) => {
      type Ev = { type: string; message?: string };
      type T = { addImages(c: number, ims: Blob[]): Promise<{ errors: string[] }>; fit(o: object, onEvent?: (ev: Ev) => void): Promise<{ history: { loss: number }[] }> };
      const d = (globalThis as unknown as { mnv2demo: { client: { createTrainer(o: object): Promise<T> } } }).mnv2demo;
      const blobs = await Promise.all(paths.map(async (f) => (await fetch(`/datasets/alpaca/dataset/${encodeURI(f)}`)).blob()));
      const t = await d.client.createTrainer({ base: './weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', classes: ['alpaca', 'not alpaca'], imageSize: 32 });
      const e1 = await t.addImages(0, blobs.slice(0, 120));
      const e2 = await t.addImages(1, blobs.slice(120));
      const plans: string[] = [];
      const fit = await t.fit({ epochs: 1, batchSize: 16, learningRate: 1e-3, validationSplit: 0.25, cacheBudgetBytes: 200 * 1024 }, (ev) => {
        if (ev.type === 'cache-plan') plans.push(ev.message!);
      });
      return { errors: [...e1.errors, ...e2.errors], plans, losses: fit.history.map((h) => h.loss) };
    }, list);
    expect(r.errors).toEqual([]);
    // 180 train images take 540 KiB as uint8 at 32x32 (> 200 KiB): streamed. 60 validation images (180 KiB) fit; the features (240 x 5 KiB) do not.
    expect(r.plans.some((m) => /^inputs \(train\): streaming 180 images/.test(m))).toBe(true);
    expect(r.plans.some((m) => /^inputs \(validation\): caching uint8 inputs of 60 images/.test(m))).toBe(true);
    expect(r.plans.some((m) => /^frozen base: recomputing base features of 240 images/.test(m))).toBe(true);
    expect(r.losses).toHaveLength(1);
    expect(Number.isFinite(r.losses[0])).toBe(true);
  });

  it('trains with the binding limit forced to 4 MiB (still holding the largest photo, 1024x768): the base runs in pages, same losses as unforced (issue 12)', async () => {
    const files = (c: string, n: number) => readdirSync(join(ALPACA, c)).sort().slice(0, n).map((f) => `${c}/${f}`);
    const list = [...files('alpaca', 8), ...files('not alpaca', 8)];
    const run = async (query: string) => {
      const page = await openDemo(query);
      const r = await page.evaluate(async (paths) => {
        type T = { addImages(c: number, ims: Blob[]): Promise<{ errors: string[] }>; fit(o: object): Promise<{ history: { loss: number }[] }> };
        type C = { adapter: { bindingLimit: number }; createTrainer(o: object): Promise<T>; worker_: { paging(): Promise<{ pagedOps: number; pages: number }> } };
        const d = (globalThis as unknown as { mnv2demo: { client: C } }).mnv2demo;
        const blobs = await Promise.all(paths.map(async (f) => (await fetch(`/datasets/alpaca/dataset/${encodeURI(f)}`)).blob()));
        const t = await d.client.createTrainer({ base: './weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', classes: ['alpaca', 'not alpaca'], imageSize: 96 });
        await t.addImages(0, blobs.slice(0, 8));
        await t.addImages(1, blobs.slice(8));
        const fit = await t.fit({ epochs: 2, batchSize: 16, learningRate: 1e-3, validationSplit: 0 });
        return { limit: d.client.adapter.bindingLimit, paging: await d.client.worker_.paging(), losses: fit.history.map((h) => h.loss) };
      }, list);
      await page.close();
      return r;
    };
    const forced = await run(`?maxBindingBytes=${4 * 2 ** 20}`);
    const whole = await run('');
    expect(forced.limit).toBe(4 * 2 ** 20);
    expect(whole.limit).toBeGreaterThan(4 * 2 ** 20);
    // block_1's [16,48,48,96] activation is 13.5 MiB: it must have run in pages
    expect(forced.paging.pagedOps).toBeGreaterThan(0);
    expect(forced.paging.pages).toBeGreaterThan(forced.paging.pagedOps);
    expect(whole.paging.pagedOps).toBe(0);
    expect(forced.losses).toHaveLength(2);
    forced.losses.forEach((l, i) => expect(Math.abs(l - whole.losses[i]), `epoch ${i + 1} loss ${l} vs ${whole.losses[i]}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(whole.losses[i]))));
  }, 240_000);
});
