// CIFAR-10 binary records and `path,label` list files (CPU), the cosine schedule, and `mnv2 train` /
// `evaluate` on a CIFAR-10 folder and a list file, plus the CLI's messages for bad weights and a
// diverging loss.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR10_CLASSES, DatasetError, cosineDecay, encodeCifar10, imageListDataset, parseCifar10, parseSafetensors, serializeSafetensors, splitRecords } from '@mnv2/core';
import { GPU } from '../helpers/gpu.js';
import { spawnSync } from 'node:child_process';
import { buildCli, MAIN, mnv2, ROOT, linkAlpacaSubset } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mnv2-formats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** n 32x32 images whose colour and stripes depend on the label (learnable, deterministic). */
function patterned(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 32 * 32 * 3);
  labels.forEach((c, n) => {
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) {
        const o = ((n * 32 + y) * 32 + x) * 3;
        const stripe = ((c % 2 ? x : y) >> 2) & 1;
        out[o] = (c * 25 + stripe * 60 + n) & 255;
        out[o + 1] = (255 - c * 20) & 255;
        out[o + 2] = stripe ? 200 : (c * 40) & 255;
      }
  });
  return out;
}

describe('CIFAR-10 binary format', () => {
  it('round-trips records: label byte, then R, G, B planes of 32x32', () => {
    const labels = [3, 0, 9];
    const imgs = patterned(labels);
    const bytes = encodeCifar10(imgs, labels);
    expect(bytes.length).toBe(3 * 3073);
    // record 1, pixel (y=0, x=1): R at 1 + 1, G at 1 + 1024 + 1, B at 1 + 2048 + 1
    const r1 = 3073;
    expect(bytes[r1]).toBe(0);
    expect([bytes[r1 + 1 + 1], bytes[r1 + 1 + 1024 + 1], bytes[r1 + 1 + 2048 + 1]]).toEqual([imgs[(32 * 32 + 1) * 3], imgs[(32 * 32 + 1) * 3 + 1], imgs[(32 * 32 + 1) * 3 + 2]]);
    const r = parseCifar10(bytes);
    expect(r.count).toBe(3);
    expect([...r.labels]).toEqual(labels);
    expect(r.images).toEqual(imgs);
    expect(CIFAR10_CLASSES[3]).toBe('cat');
  });

  it('rejects a truncated file and a bad label by name', () => {
    const bytes = encodeCifar10(patterned([1, 2]), [1, 2]);
    expect(() => parseCifar10(bytes.subarray(0, 5000), 'data_batch_1.bin')).toThrow(/data_batch_1\.bin is not a CIFAR-10 binary batch: 5000 bytes/);
    const bad = bytes.slice();
    bad[3073] = 42;
    expect(() => parseCifar10(bad, 'x.bin')).toThrow(/x\.bin: record 1 has label 42/);
  });

  it('splits deterministically per seed, disjoint', () => {
    const r = parseCifar10(encodeCifar10(patterned(Array.from({ length: 20 }, (_, i) => i % 10)), Array.from({ length: 20 }, (_, i) => i % 10)));
    const a = splitRecords(r, 0.25, 42);
    expect(a.validation.length).toBe(5);
    expect(splitRecords(r, 0.25, 42)).toEqual(a);
    expect(new Set([...a.train, ...a.validation]).size).toBe(20);
    expect(splitRecords(r, 0.25, 7).validation).not.toEqual(a.validation);
  });
});

describe('path,label list files', () => {
  it('class-name labels (sorted), header, comments, quoted paths', () => {
    const ds = imageListDataset('path,label\n# comment\n"a,1.jpg",dog\nb.jpg,cat\n\nsub/c.jpg,dog\nd.jpg,cat\n', { validationSplit: 0, shuffle: false, file: 'l.csv' });
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(ds.samples.map((s) => [s.path, s.label])).toEqual([
      ['a,1.jpg', 1],
      ['b.jpg', 0],
      ['sub/c.jpg', 1],
      ['d.jpg', 0],
    ]);
    expect(ds.labelMode).toBe('binary');
  });

  it('integer labels 0..K-1; errors name the file and line', () => {
    const ds = imageListDataset('a.png,0\nb.png,2\nc.png,1\nd.png,02\n', { validationSplit: 0.25, seed: 1 });
    expect(ds.classNames).toEqual(['0', '1', '2']);
    expect(ds.labelMode).toBe('sparse-categorical');
    expect(ds.validation.length).toBe(1);
    expect(() => imageListDataset('a.png,0\nb.png,2\n', { file: 'l.csv' })).toThrow(/l\.csv: integer labels must cover 0\.\.2, but no image has label 1/);
    expect(() => imageListDataset('a.png\n', { file: 'l.csv' })).toThrow(/l\.csv, line 1: expected 'path,label'/);
    expect(() => imageListDataset('a.png,x\nb.png,x\n', { file: 'l.csv' })).toThrow(DatasetError);
    expect(() => imageListDataset('# nothing\n', { file: 'l.csv' })).toThrow(/l\.csv lists no images/);
  });
});

describe('cosine learning-rate schedule (Keras CosineDecay)', () => {
  it('starts at lr0, halves at mid-way, ends at alpha·lr0', () => {
    const s = cosineDecay({ initialLearningRate: 1e-3, decaySteps: 10, alpha: 0.1 });
    expect(s(0)).toBeCloseTo(1e-3, 12);
    expect(s(5)).toBeCloseTo(1e-3 * (0.9 * 0.5 + 0.1), 12);
    expect(s(10)).toBeCloseTo(1e-4, 12);
    expect(s(25)).toBeCloseTo(1e-4, 12);
    expect(() => cosineDecay({ initialLearningRate: 1e-3, decaySteps: 0 })).toThrow(/decaySteps/);
  });
});

describe(`${GPU} mnv2 train on CIFAR-10 and list files; bad weights; divergence (built CLI)`, () => {
  const cifar = join(tmp, 'cifar');
  const small = join(tmp, 'small');
  beforeAll(() => {
    buildCli();
    mkdirSync(cifar);
    const tr = Array.from({ length: 40 }, (_, i) => i % 10);
    const te = Array.from({ length: 10 }, (_, i) => i);
    writeFileSync(join(cifar, 'data_batch_1.bin'), encodeCifar10(patterned(tr), tr));
    writeFileSync(join(cifar, 'test_batch.bin'), encodeCifar10(patterned(te), te));
    linkAlpacaSubset(small, 4);
  });

  it('CIFAR-10 folder: 32x32 by default, Dense(16, relu) → Dense(10), evaluate on the same folder', () => {
    const out = join(tmp, 'run-cifar');
    const r = mnv2('train', cifar, '--epochs', '1', '--batch-size', '8', '--hidden-units', '16', '--no-augment', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Found CIFAR-10: 40 training images \(data_batch_1\.bin\), 10 test images \(test_batch\.bin\) used for validation/);
    expect(r.stdout).toMatch(/input 32x32/);
    expect(r.stdout).toMatch(/Epoch 1\/1 .* val_accuracy: [\d.]+/);
    const st = parseSafetensors(readFileSync(join(out, 'model.safetensors')));
    expect(st.weights.get('dense/kernel')?.shape).toEqual([1280, 16]);
    expect(st.weights.get('dense_1/kernel')?.shape).toEqual([16, 10]);
    const ev = mnv2('evaluate', out, cifar, '--json');
    expect(ev.code, ev.stderr).toBe(0);
    const j = JSON.parse(ev.stdout) as { images: number; accuracy: number; classNames: string[] };
    expect(j.images).toBe(50);
    expect(j.classNames).toEqual(CIFAR10_CLASSES);
    expect(j.accuracy).toBeGreaterThanOrEqual(0);
    const corrupt = join(tmp, 'cifar-bad');
    mkdirSync(corrupt);
    writeFileSync(join(corrupt, 'data_batch_1.bin'), new Uint8Array(3000));
    const bad = mnv2('train', corrupt, '--out', join(tmp, 'run-cifar-bad'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/data_batch_1\.bin is not a CIFAR-10 binary batch/);
  });

  it('a path,label list file with a cosine schedule and a 2-way softmax (--label-mode int), evaluated from the list', () => {
    const lines = ['path,label'];
    for (const c of ['alpaca', 'not alpaca']) for (const f of readdirSync(join(small, c))) lines.push(`"small/${c}/${f}",${c === 'alpaca' ? 'yes' : 'no'}`);
    writeFileSync(join(tmp, 'list.csv'), lines.join('\n') + '\n');
    const out = join(tmp, 'run-list');
    const r = mnv2('train', join(tmp, 'list.csv'), '--epochs', '1', '--image-size', '32', '--batch-size', '4', '--val-split', '0.25', '--lr-schedule', 'cosine', '--label-mode', 'int', '--no-augment', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 classes: sparse softmax cross-entropy/);
    expect(parseSafetensors(readFileSync(join(out, 'model.safetensors'))).weights.get('dense/kernel')?.shape).toEqual([1280, 2]);
    const ev = mnv2('evaluate', out, join(tmp, 'list.csv'), '--json');
    expect(ev.code, ev.stderr).toBe(0);
    expect((JSON.parse(ev.stdout) as { images: number }).images).toBe(8);
    expect(r.stdout).toMatch(/Found 8 files belonging to 2 classes in the list .*list\.csv: 'no', 'yes'/);
    expect(r.stdout).toMatch(/Using 6 files for training, 2 for validation/);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).lrSchedule).toBe('cosine');
  });

  it('weights: missing file, wrong format, wrong shapes, wrong alpha each say what to do', () => {
    const base = ['train', small, '--epochs', '1', '--image-size', '32', '--out', join(tmp, 'run-w')];
    const missing = mnv2(...base, '--weights', join(tmp, 'nope.h5'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/weights '.*nope\.h5' not found/);
    writeFileSync(join(tmp, 'junk.safetensors'), 'this is not safetensors');
    const junk = mnv2(...base, '--weights', join(tmp, 'junk.safetensors'));
    expect(junk.code).toBe(1);
    expect(junk.stderr).toMatch(/junk\.safetensors/);
    const wrong = new Map([['Conv1/kernel', { shape: [3, 3, 3, 8], data: new Float32Array(3 * 3 * 3 * 8) }]]);
    writeFileSync(join(tmp, 'wrong.safetensors'), serializeSafetensors(wrong));
    const shapes = mnv2(...base, '--weights', join(tmp, 'wrong.safetensors'));
    expect(shapes.code).toBe(1);
    expect(shapes.stderr).toMatch(/do not hold a MobileNetV2 alpha 1 base[\s\S]*Conv1\/kernel/);
    const alpha = mnv2(...base, '--alpha', '0.35');
    expect(alpha.code).toBe(1);
    expect(alpha.stderr).toMatch(/are MobileNetV2 alpha 1, but --alpha is 0\.35: pass --alpha 1 or other weights \(for alpha 0\.35: 'mnv2 weights fetch --alpha 0\.35/);
    expect(existsSync(join(tmp, 'run-w', 'model.safetensors'))).toBe(false);
  });

  it('a GPU device lost mid-run: a message naming the intact checkpoint, and --resume finishes the run', () => {
    const out = join(tmp, 'run-lost');
    const flags = ['train', small, '--epochs', '3', '--image-size', '32', '--batch-size', '2', '--val-split', '0.25', '--no-augment', '--out', out];
    const r = spawnSync(process.execPath, [MAIN, ...flags], { cwd: ROOT, env: { ...process.env, MNV2_FAULT: 'device-lost-at-step:5' }, encoding: 'utf8', timeout: 110_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/GPU device lost[\s\S]*The checkpoint of epoch 1 is in .*run-lost: continue with 'mnv2 train --out .*run-lost --resume'/);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).epochsDone).toBe(1);
    const again = mnv2('train', '--out', out, '--resume');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Resuming .* after epoch 1\/3/);
    expect(again.stdout).toMatch(/Epoch 3\/3/);
  });

  it('a diverging loss stops with a message and exit code 1, no partial files', () => {
    const out = join(tmp, 'run-nan');
    const r = mnv2('train', small, '--epochs', '2', '--image-size', '32', '--batch-size', '4', '--lr', '3e38', '--no-augment', '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the loss (became (NaN|Infinity|-Infinity)|exploded to [\d.]+e\+\d+) at epoch 1, step \d+: training diverged and stopped\. No checkpoint was written\. Try a lower --lr/);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
