// Issue 16: kernel variants picked by measurement on first use. With MNV2_TUNING=auto (the default
// outside the tests) the first command on an adapter without a tuning file times the matmul variants
// of the network it runs, uses them and saves them; the next command loads them without measuring.
// MNV2_TUNING=load never measures; a cache folder that cannot be written costs only the saving.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MatmulTuning } from '@mnv2/core';
import { GPU } from '../helpers/gpu.js';
import { buildCli, mnv2With } from '../helpers/cli.js';

const CAT = fileURLToPath(new URL('../../../shared/datasets/coral_test_images/cat.bmp', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'mnv2-first-tune-'));

beforeAll(() => {
  buildCli();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Doc = { results: { top: { label: string; probability: number }[] }[] };

describe(`${GPU} tuning on first use (mnv2 classify)`, () => {
  it('measures once, saves one file, and the next command loads it without measuring; MNV2_TUNING=load never measures', () => {
    const dir = join(tmp, 'tuning');
    const env = { MNV2_TUNING_DIR: dir, MNV2_TUNING: 'auto', MNV2_TUNING_BUDGET: '4' };
    const args = ['classify', CAT, '--image-size', '64', '--batch-size', '1', '--json', '--top', '1'];

    const loadOnly = mnv2With({ ...env, MNV2_TUNING: 'load' }, ...args);
    expect(loadOnly.code, loadOnly.stderr).toBe(0);
    expect(loadOnly.stderr).not.toMatch(/first use/);
    expect(() => readdirSync(dir)).toThrow(); // nothing written

    const first = mnv2With(env, ...args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/first use of this adapter: timing the matmul variants of MobileNetV2 1 at 64x64, batch 1 \(at most 4 s/);
    expect(first.stderr).toMatch(/tuned \d+ products in [\d.]+ s .*; saved in /);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const saved = JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as MatmulTuning;
    expect(Object.keys(saved.choices).length).toBeGreaterThan(0);

    const second = mnv2With(env, ...args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toMatch(/first use|tuned \d+ products/);
    const doctor = mnv2With(env, 'doctor');
    expect(doctor.stdout).toMatch(/matmul +tuned for this adapter/);

    // Tuned or not, the answer is the same (only the speed changes).
    const [a, b, c] = [loadOnly, first, second].map((r) => (JSON.parse(r.stdout) as Doc).results[0].top[0]);
    expect(b.label).toBe(a.label);
    expect(c.label).toBe(a.label);
    expect(Math.abs(b.probability - a.probability)).toBeLessThan(1e-4);
    expect(Math.abs(c.probability - a.probability)).toBeLessThan(1e-4);
  }, 240_000);

  it('a cache folder that cannot be written: the run still uses what it measured and says it could not save it', () => {
    const blocker = join(tmp, 'not-a-folder');
    writeFileSync(blocker, 'a file where the cache folder should be');
    const r = mnv2With({ MNV2_TUNING_DIR: join(blocker, 'tuning'), MNV2_TUNING: 'auto', MNV2_TUNING_BUDGET: '2' }, 'classify', CAT, '--image-size', '64', '--batch-size', '1', '--top', '1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/tuned \d+ products .*; could not save it in .*not-a-folder.*: used for this run only/);
    expect(r.stdout).toMatch(/cat/i);
  }, 240_000);

  it('a bad MNV2_TUNING value is named', () => {
    const r = mnv2With({ MNV2_TUNING: 'sometimes' }, 'classify', CAT, '--image-size', '64', '--top', '1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/MNV2_TUNING must be auto, load or off, got 'sometimes'/);
  });
});
