// Divergence is caught by the loss magnitude and by the weights, not only by a NaN loss: the run
// stops with a non-zero status, says which learning rate to lower, and the run folder keeps the last
// good epoch's model byte for byte. Weight files holding NaN/Inf are refused by name when loaded.
import { describe, it, beforeAll, expect } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors, serializeSafetensors } from '@mnv2/core';
import { cliWorkspace, mnv2, mnv2With } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';

describe(`${GPU} train: divergence never overwrites the good model`, () => {
  let tmp: string;
  let data: string;
  const base = () => ['train', data, '--image-size', '96', '--batch-size', '8', '--epochs', '2', '--optimizer', 'sgd', '--lr', '0.01'];
  beforeAll(() => {
    ({ tmp, data } = cliWorkspace('mnv2-diverge-', 6));
    const good = mnv2(...base(), '--out', join(tmp, 'good'));
    if (good.code !== 0) throw new Error(`training failed:\n${good.stdout}\n${good.stderr}`);
  }, 120_000);

  it('--fine-tune-lr 1e38: exit 1, the model is the last good epoch\'s byte for byte', () => {
    const out = join(tmp, 'diverged');
    const r = mnv2(...base(), '--fine-tune-at', '100', '--fine-tune-epochs', '2', '--fine-tune-lr', '1e38', '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the loss exploded to [\d.]+e\+\d+ at epoch 3, step \d+: training diverged and stopped\. The last good checkpoint and model \(epoch 2\) are kept in .* Try a lower --fine-tune-lr/);
    expect(r.stdout).toMatch(/Stopped \(diverged\)/);
    expect(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(tmp, 'good', 'model.safetensors')))).toBe(true);
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as unknown[];
    expect(history).toHaveLength(2);
  }, 170_000);

  it('weights that turn non-finite are never written: the previous epoch stays', () => {
    const out = join(tmp, 'nan');
    const r = mnv2With({ MNV2_FAULT: 'nan-weights-at-epoch:2' }, ...base(), '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the weights became non-finite at epoch 2 \('[^']+': \d+ NaN\/Inf of \d+\): training diverged and stopped\. The last good checkpoint and model are kept in .* Try a lower --lr/);
    const st = parseSafetensors(readFileSync(join(out, 'model.safetensors')), 'model');
    expect(st.metadata.epoch).toBe('1');
    for (const [name, w] of st.weights) expect(w.data.every(Number.isFinite), name).toBe(true);
  }, 120_000);

  it('loading a weight file with NaN names the tensor (predict, train --weights)', () => {
    const run = join(tmp, 'good');
    const path = join(run, 'model.safetensors');
    const st = parseSafetensors(readFileSync(path), 'model');
    const [name, w] = [...st.weights].find(([n]) => n.endsWith('/kernel'))!;
    w.data[3] = NaN;
    writeFileSync(path, serializeSafetensors(st.weights, st.metadata));
    const p = mnv2('predict', run, join(data, 'alpaca'));
    expect(p.code).toBe(1);
    expect(p.stderr).toContain(`tensor '${name}' holds 1 non-finite value (NaN or Inf) of ${w.data.length}`);
    const t = mnv2('train', data, '--weights', path, '--image-size', '96', '--epochs', '1', '--out', join(tmp, 'from-nan'));
    expect(t.code).toBe(1);
    expect(t.stderr).toContain(`weights '${path}': tensor '${name}' holds 1 non-finite value`);
  }, 120_000);
});
