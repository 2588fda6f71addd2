// `mnv2 evaluate` and `mnv2 predict` on a tiny trained run (built CLI): Keras-style accuracy line,
// JSON with the run's class names, one prediction per image, and a clear error for other classes.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { parseSafetensors } from '@mnv2/core';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPU } from '../helpers/gpu.js';
import { buildCli, mnv2, linkAlpacaSubset, ALPACA } from '../helpers/cli.js';



const tmp = mkdtempSync(join(tmpdir(), 'mnv2-eval-'));
const data = join(tmp, 'data');
const other = join(tmp, 'other');
const run = join(tmp, 'run');

beforeAll(() => {
  buildCli();
  linkAlpacaSubset(data, 4);
  for (const c of ['cats', 'dogs']) {
    mkdirSync(join(other, c), { recursive: true });
    for (const f of readdirSync(join(ALPACA, 'alpaca')).sort().slice(0, 1)) symlinkSync(join(ALPACA, 'alpaca', f), join(other, c, f));
  }
  const r = mnv2('train', data, '--epochs', '1', '--image-size', '64', '--batch-size', '4', '--val-split', '0.25', '--no-augment', '--out', run);
  if (r.code !== 0) throw new Error(`train failed:\n${r.stdout}\n${r.stderr}`);
}, 240_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`${GPU} mnv2 evaluate / predict (built CLI)`, () => {
  it('evaluate prints a Keras-style loss/accuracy line, and JSON with the class names', () => {
    const r = mnv2('evaluate', run, data, '--batch-size', '3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Found 8 files belonging to 2 classes/);
    const m = r.stdout.match(/loss: ([\d.]+) - accuracy: ([\d.]+)/);
    expect(m).not.toBeNull();
    const acc = Number(m![2]);
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
    expect(Number.isFinite(Number(m![1]))).toBe(true);

    const j = mnv2('evaluate', run, data, '--json');
    expect(j.code, j.stderr).toBe(0);
    const doc = JSON.parse(j.stdout) as { classNames: string[]; images: number; loss: number; accuracy: number };
    expect(doc.classNames).toEqual(['alpaca', 'not alpaca']);
    expect(doc.images).toBe(8);
    expect(doc.accuracy).toBeCloseTo(acc, 3);
  });

  it('evaluate refuses a dataset whose class folders differ from the run', () => {
    const r = mnv2('evaluate', run, other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/do not match the run's classes \('alpaca', 'not alpaca'\); missing: 'alpaca', 'not alpaca'; unknown: 'cats', 'dogs'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('predict gives a class and probability per image (folder and file)', () => {
    const one = join(data, 'alpaca', readdirSync(join(data, 'alpaca')).sort()[0]);
    const r = mnv2('predict', run, join(data, 'not alpaca'), one);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/: (alpaca|not alpaca) \(\d+\.\d\d%\)$/);

    const j = mnv2('predict', run, join(data, 'alpaca'), '--json');
    expect(j.code, j.stderr).toBe(0);
    const doc = JSON.parse(j.stdout) as { classNames: string[]; results: { class: string; probability: number; probabilities: Record<string, number> }[] };
    expect(doc.classNames).toEqual(['alpaca', 'not alpaca']);
    expect(doc.results).toHaveLength(4);
    for (const res of doc.results) {
      expect(doc.classNames).toContain(res.class);
      expect(res.probability).toBeGreaterThanOrEqual(0.5);
      expect(res.probabilities['alpaca'] + res.probabilities['not alpaca']).toBeCloseTo(1, 5);
    }
  });

  it("summary of a trained run: Keras' totals for the frozen tutorial model (2,259,265 / 1,281 trainable)", () => {
    const r = mnv2('summary', run);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mobilenetv2_1\.00_64 \(Functional\)/);
    expect(r.stdout).toMatch(/dense \(Dense\)\s+\(None, 1\)\s+1,281/);
    expect(r.stdout).toMatch(/Total params: 2,259,265/);
    expect(r.stdout).toMatch(/Trainable params: 1,281\b/);
  });

  it('predict on a folder that is not a run says so', () => {
    const r = mnv2('predict', data, join(data, 'alpaca'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a training run folder/);
  });

  it('train --early-stopping-patience / --restore-best writes the best val_loss epoch', () => {
    const out = join(tmp, 'run-best');
    const r = mnv2('train', data, '--epochs', '4', '--lr', '0.05', '--image-size', '64', '--batch-size', '4', '--val-split', '0.25', '--no-augment', '--early-stopping-patience', '1', '--restore-best', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const hist = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as { epoch: number; val_loss: number }[];
    if (/early stopping/.test(r.stdout)) expect(hist.length).toBeLessThan(4);
    else expect(hist.length).toBe(4);
    const bestEpoch = hist.reduce((a, h) => (h.val_loss < a.val_loss ? h : a)).epoch;
    expect(r.stdout).toContain(`Restored the weights of epoch ${bestEpoch} `);
    const st = parseSafetensors(readFileSync(join(out, 'model.safetensors')));
    expect(st.metadata.epoch).toBe(String(bestEpoch));
    const bad = mnv2('train', data, '--val-split', '0', '--early-stopping-patience', '2', '--out', join(tmp, 'run-nov'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/needs a validation split/);
  });
});
