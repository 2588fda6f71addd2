// Issue 16 in the browser: `client.tune()` measures the matmul variants on the page's adapter, uses
// them at once, and keeps them in the Cache API, so a later visit (a new worker) starts tuned.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import type { Page } from 'playwright-core';
import { SETUP_HINT, ensureDemoBuilt, launchChromium, startServer, type Browser, type TestServer } from './harness.js';

let server: TestServer;
let browser: Browser;
let setupError: Error | null = null;

beforeAll(async () => {
  try {
    ensureDemoBuilt();
    server = await startServer();
    browser = await launchChromium();
  } catch (e) {
    setupError = e instanceof Error ? e : new Error(String(e));
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function openDemo(): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => {
    const d = (globalThis as unknown as { mnv2demo?: { ready: boolean; errors: string[] } }).mnv2demo;
    return !!d && (d.ready || d.errors.length > 0);
  }, undefined, { timeout: 90_000 });
  return page;
}

type Client = { adapter: { matmulVariants: string } | null; tune(o: object): Promise<{ products: number; tuned: number; heuristicMs: number; tunedMs: number }> };
const client = (page: Page) => page.evaluate(() => (globalThis as unknown as { mnv2demo: { client: Client } }).mnv2demo.client.adapter?.matmulVariants ?? null);

describe('web: matmul tuning per adapter (WebGPU on SwiftShader)', () => {
  it('tune() measures, applies at once, and a new page (new worker) starts with the stored tuning', async () => {
    if (setupError) throw new Error(`${setupError.message}\n${SETUP_HINT}`);
    const page = await openDemo();
    expect(await client(page)).toBe('built-in heuristic');
    const r = await page.evaluate(() => (globalThis as unknown as { mnv2demo: { client: Client } }).mnv2demo.client.tune({ imageSize: 32, batchSize: 1, alpha: 0.35, budgetSeconds: 20 }));
    expect(r.products).toBeGreaterThan(10);
    expect(r.tuned).toBeGreaterThan(0);
    expect(r.tunedMs).toBeLessThanOrEqual(r.heuristicMs);
    expect(await client(page)).toBe(`tuned for this adapter (${r.tuned} products)`);
    await page.close();
    const again = await openDemo();
    expect(await client(again)).toBe(`tuned for this adapter (${r.tuned} products)`);
    await again.close();
  }, 240_000);
});
