// `mnv2 train` end to end on a tiny copy of the alpaca set (symlinks, one corrupt file): per-epoch
// lines, a checkpoint (model.safetensors by Keras names, config.json, history.json), the skipped file
// named, refusal to overwrite a run folder without --force, and a single-class folder's message.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kerasFixture } from '../io/h5-fixture.js';
import { parseSafetensors } from '@mnv2/core';
import { GPU } from '../helpers/gpu.js';
import { buildCli, mnv2, linkAlpacaSubset } from '../helpers/cli.js';



const tmp = mkdtempSync(join(tmpdir(), 'mnv2-train-'));
const data = join(tmp, 'data');

beforeAll(() => {
  buildCli();
  linkAlpacaSubset(data, 6);
  writeFileSync(join(data, 'alpaca', 'broken.jpg'), 'not a jpeg');
  mkdirSync(join(tmp, 'one', 'cats'), { recursive: true });
  writeFileSync(join(tmp, 'one', 'cats', 'a.jpg'), 'x');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`${GPU} mnv2 train (built CLI)`, () => {
  it('trains, checkpoints, names the corrupt file, refuses to overwrite', () => {
    const out = join(tmp, 'run');
    const args = ['train', data, '--epochs', '2', '--image-size', '64', '--batch-size', '4', '--val-split', '0.25', '--no-augment', '--out', out];
    const r = mnv2(...args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Found 13 files belonging to 2 classes/);
    expect(r.stdout).toMatch(/Epoch 1\/2 - [\d.]+s - loss: [\d.]+ - accuracy: [\d.]+ - val_loss: [\d.]+ - val_accuracy: [\d.]+/);
    expect(r.stdout).toMatch(/Epoch 2\/2/);
    expect(r.stdout).toMatch(/cached base features/);
    expect(r.stderr).toMatch(/broken\.jpg/);
    expect(r.stdout).toMatch(/Skipped 1 file/);
    const hist = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as { epoch: number }[];
    expect(hist.map((h) => h.epoch)).toEqual([1, 2]);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { classNames: string[]; epochsDone: number };
    expect(cfg.classNames).toEqual(['alpaca', 'not alpaca']);
    expect(cfg.epochsDone).toBe(2);
    const st = parseSafetensors(readFileSync(join(out, 'model.safetensors')));
    expect(st.weights.get('dense/kernel')?.shape).toEqual([1280, 1]);
    expect(st.weights.get('block_1_expand/kernel')?.shape).toEqual([1, 1, 16, 96]);
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(readFileSync(join(out, 'curves.html'), 'utf8')).toMatch(/<svg/);

    const again = mnv2(...args);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists and is not empty: pass --force/);
    expect(again.stderr).not.toMatch(/\n\s+at /);
  });

  it('trains on a Keras .h5 base (alpha 0.35, the _no_top layout users download)', async () => {
    const fx = await kerasFixture({ alpha: 0.35, size: 96, includeTop: false, names: 'legacy' });
    const h5 = join(tmp, fx.fileName);
    writeFileSync(h5, fx.bytes);
    const out = join(tmp, 'run-h5');
    const r = mnv2('train', data, '--weights', h5, '--alpha', '0.35', '--epochs', '1', '--image-size', '64', '--batch-size', '4', '--val-split', '0.25', '--no-augment', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Epoch 1\/1/);
    expect(r.stdout + r.stderr).toContain('Keras .h5');
  });

  it('a single class folder fails with a message saying what to fix', () => {
    const r = mnv2('train', join(tmp, 'one'), '--out', join(tmp, 'run-one'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/only one class folder \('cats'\).*at least two sub-folders/);
    expect(existsSync(join(tmp, 'run-one'))).toBe(false);
  });
});
