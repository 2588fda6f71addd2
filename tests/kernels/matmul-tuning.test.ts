// Issue 16: matmul variants picked per adapter by measurement. The tuner records the products a
// network runs, times candidates, and a loaded tuning changes which variant runs (observable in the
// dispatch count: a tuned split-K runs two passes) without changing the result; a tuning made on
// another adapter is refused; `mnv2 tune` writes one file per adapter and doctor reports it.
import { describe, it, beforeAll, expect } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MobileNetV2Net,
  adapterKey,
  matmul,
  matmulCandidates,
  matmulShapeKey,
  recordMatmulShapes,
  seededRandom,
  setMatmulTuning,
  tuneMatmul,
  type Engine,
  type MatmulTuning,
} from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { buildCli, mnv2With } from '../helpers/cli.js';
import { matmulRef } from '../reference/matmul.js';
import { expectClose } from '../helpers/allclose.js';

describe(`${GPU} matmul tuning`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  it('records the products of a forward pass; tunes each to a candidate no slower than the heuristic; a small budget tunes fewer', async () => {
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: 32, head: { classes: 3, pooling: 'avg', dropout: 0 }, seed: 1 });
    const x = e.upload(new Float32Array(2 * 32 * 32 * 3).fill(0.5), [2, 32, 32, 3]);
    const shapes = await recordMatmulShapes(e, async () => {
      e.tidy(() => net.forward(e, x, { training: false })).dispose();
      await e.sync();
    });
    x.dispose();
    // 17 blocks × (expand when t > 1, project) + Conv_1 + the dense head, deduplicated by shape
    expect(shapes.length).toBeGreaterThan(10);
    expect(shapes.some((d) => d.N === 3 && d.K === 1280)).toBe(true); // the head: [2,1280]·[1280,3]
    const t = await tuneMatmul(e, shapes.slice(0, 4), { reps: 1 });
    expect(t.adapter).toBe(adapterKey(e));
    expect(Object.keys(t.choices).sort()).toEqual(shapes.slice(0, 4).map(matmulShapeKey).sort());
    for (const d of shapes.slice(0, 4)) {
      const c = t.choices[matmulShapeKey(d)];
      expect(c.ms).toBeLessThanOrEqual(c.defaultMs);
      expect(matmulCandidates(e, d).some((v) => JSON.stringify(v.tile) === JSON.stringify(c.tile))).toBe(true);
    }
    let clock = 0;
    const few = await tuneMatmul(e, shapes, { reps: 1, budgetMs: 10, now: () => (clock += 4) });
    expect(Object.keys(few.choices).length).toBeGreaterThan(0);
    expect(Object.keys(few.choices).length).toBeLessThan(shapes.length);
  });

  it('a loaded tuning changes the variant that runs (a tuned split-K: two passes), never the result; another adapter\'s is refused', async () => {
    const [M, K, N] = [20, 96, 12];
    const r = seededRandom(5);
    const av = Float32Array.from({ length: M * K }, () => r() - 0.5);
    const bv = Float32Array.from({ length: K * N }, () => r() - 0.5);
    const a = e.upload(av, [M, K]);
    const b = e.upload(bv, [K, N]);
    const ref = matmulRef(av, bv, M, K, N, { transA: false, transB: false });
    const passes = async () => {
      const before = e.dispatchCount;
      const out = matmul(e, a, b);
      const n = e.dispatchCount - before;
      expectClose(await out.read(), ref, { rtol: 1e-4, atol: 1e-5, what: 'tuned matmul' });
      out.dispose();
      return n;
    };
    setMatmulTuning(e, null);
    expect(await passes()).toBe(1); // the heuristic: no split-K for this product
    const key = matmulShapeKey({ M, N, K, transA: false, transB: false });
    const tuning: MatmulTuning = { version: 1, adapter: adapterKey(e), date: 'test', choices: { [key]: { tile: { bm: 4, bn: 4, map: 'n-fast', share: 'none' }, splitK: 3, ms: 1, defaultMs: 2 } } };
    expect(setMatmulTuning(e, { ...tuning, adapter: 'some other GPU' })).toBe(false);
    expect(await passes()).toBe(1);
    expect(setMatmulTuning(e, tuning)).toBe(true);
    expect(await passes()).toBe(2); // split-K partial sums + reduce
    setMatmulTuning(e, null);
    a.dispose();
    b.dispose();
  });

  it('mnv2 tune writes one file for this adapter; doctor says the tuning is used, MNV2_TUNING=off that it is not', () => {
    buildCli();
    const dir = mkdtempSync(join(tmpdir(), 'mnv2-tune-'));
    const env = { MNV2_TUNING_DIR: dir, MNV2_TUNING: 'load' };
    const before = mnv2With(env, 'doctor');
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/matmul +built-in heuristic \(tuning: none yet/);
    const t = mnv2With(env, 'tune', '--image-size', '32', '--batch-size', '1', '--alpha', '0.35', '--budget', '5', '--reps', '1');
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/Tuned \d+ of \d+ products/);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const saved = JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as MatmulTuning;
    expect(Object.keys(saved.choices).length).toBeGreaterThan(0);
    const after = mnv2With(env, 'doctor');
    expect(after.stdout).toMatch(new RegExp(`matmul +tuned for this adapter \\(${Object.keys(saved.choices).length} products`));
    const off = mnv2With({ ...env, MNV2_TUNING: 'off' }, 'doctor');
    expect(off.stdout).toMatch(/built-in heuristic \(tuning: MNV2_TUNING=off/);
  }, 180_000);
});
