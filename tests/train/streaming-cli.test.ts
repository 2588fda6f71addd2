// Issue 13 in the CLI: `mnv2 train --cache-budget` picks the path of each cache and the run log
// says which and why; the results do not depend on it.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPU } from '../helpers/gpu.js';
import { buildCli, mnv2, linkAlpacaSubset } from '../helpers/cli.js';
import { parseBytes } from '../../packages/cli/src/data/cache-budget.js';

const tmp = mkdtempSync(join(tmpdir(), 'mnv2-stream-cli-'));
const data = join(tmp, 'data');

beforeAll(() => {
  buildCli();
  linkAlpacaSubset(data, 6);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('cache budget sizes', () => {
  it('parses binary units and rejects the rest', () => {
    expect(parseBytes('0')).toBe(0);
    expect(parseBytes('512M')).toBe(512 * 2 ** 20);
    expect(parseBytes('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseBytes('300k')).toBe(300 * 1024);
    expect(parseBytes('4096')).toBe(4096);
    expect(() => parseBytes('lots')).toThrow(/--cache-budget must be a size such as 512M/);
    expect(() => parseBytes('-1G')).toThrow(/--cache-budget/);
  });
});

describe(`${GPU} mnv2 train --cache-budget`, () => {
  const run = (budget: string, extra: string[] = []) => {
    const out = join(tmp, `run-${budget}-${extra.length}`);
    const r = mnv2('train', data, '--epochs', '1', '--image-size', '32', '--batch-size', '4', '--val-split', '0.25', '--alpha', '0.35', '--weights', 'none', '--cache-budget', budget, '--out', out, ...extra);
    expect(r.code, r.stderr).toBe(0);
    return { ...r, history: JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as { loss: number; val_loss: number }[] };
  };

  it('streams over the budget, caches under it, and both train the same', () => {
    const s = run('0');
    expect(s.stdout).toMatch(/inputs \(train\): streaming 9 images \(inputs need 27 KiB > 0 B free of cache budget 0 B\)/);
    expect(s.stdout).toMatch(/inputs \(validation\): streaming 3 images/);
    const c = run('64M');
    expect(c.stdout).toMatch(/inputs \(train\): caching uint8 inputs of 9 images: 27 KiB in 1 page/);
    expect(c.stdout).toMatch(/inputs \(validation\): caching uint8 inputs of 3 images/);
    expect(c.history[0].loss).toBe(s.history[0].loss);
    expect(c.history[0].val_loss).toBe(s.history[0].val_loss);
  });

  it('without augmentation, features over the budget are recomputed (said so), under it cached', () => {
    const r = run('30K', ['--no-augment']);
    // 9 train images take 27 KiB (cached), 3 validation images 9 KiB no longer fit; the features (12 × 5 KiB) neither.
    expect(r.stdout).toMatch(/inputs \(train\): caching/);
    expect(r.stdout).toMatch(/inputs \(validation\): streaming 3 images/);
    expect(r.stdout).toMatch(/frozen base: recomputing base features of 12 images/);
    expect(r.stdout).not.toMatch(/cached base features/);
    const c = run('64M', ['--no-augment']);
    expect(c.stdout).toMatch(/frozen base: caching base features of 12 images/);
    expect(c.stdout).toMatch(/cached base features/);
    expect(Math.abs(c.history[0].loss - r.history[0].loss)).toBeLessThan(1e-6);
  });

  it('rejects a malformed budget', () => {
    const r = mnv2('train', data, '--cache-budget', 'lots', '--out', join(tmp, 'bad'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--cache-budget must be a size such as 512M/);
  });
});
