// Issue 16 in the browser: `client.tune()` measures the matmul variants on the page's adapter, uses
// them at once, and keeps them in the Cache API, so a later visit (a new worker) starts tuned.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import type { Page } from 'playwright-core';
import { demoPageSuite } from './harness.js';

const demo = demoPageSuite({ beforeAll, afterAll });

type Client = { adapter: { matmulVariants: string } | null; tune(o: object): Promise<{ products: number; tuned: number; heuristicMs: number; tunedMs: number }> };
const client = (page: Page) => page.evaluate(() => (globalThis as unknown as { mnv2demo: { client: Client } }).mnv2demo.client.adapter?.matmulVariants ?? null);

describe('web: matmul tuning per adapter (WebGPU on SwiftShader)', () => {
  it('tune() measures, applies at once, and a new page (new worker) starts with the stored tuning', async () => {
    const page = await demo.open();
    expect(await client(page)).toBe('built-in heuristic');
    const r = await page.evaluate(() => (globalThis as unknown as { mnv2demo: { client: Client } }).mnv2demo.client.tune({ imageSize: 32, batchSize: 1, alpha: 0.35, budgetSeconds: 20 }));
    expect(r.products).toBeGreaterThan(10);
    expect(r.tuned).toBeGreaterThan(0);
    expect(r.tunedMs).toBeLessThanOrEqual(r.heuristicMs);
    expect(await client(page)).toBe(`tuned for this adapter (${r.tuned} products)`);
    await page.close();
    const again = await demo.open();
    expect(await client(again)).toBe(`tuned for this adapter (${r.tuned} products)`);
    await again.close();
  }, 240_000);
});
