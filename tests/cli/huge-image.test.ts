// One huge image (8000x8000: 192 MB once decoded, over a GPU binding) among ordinary ones: it is
// shrunk on the host when decoded, and classify, predict and train give results for every image.
import { describe, it, beforeAll, expect } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildCli, mnv2, linkAlpacaSubset, SHARED } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';

describe(`${GPU} an 8000x8000 image among ordinary ones`, () => {
  let tmp: string;
  let photos: string;
  let data: string;
  beforeAll(async () => {
    buildCli();
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-huge-'));
    photos = join(tmp, 'photos');
    mkdirSync(photos);
    const huge = join(photos, 'b_huge.jpg');
    await sharp({ create: { width: 8000, height: 8000, channels: 3, background: { r: 200, g: 30, b: 90 } } }).jpeg().toFile(huge);
    copyFileSync(join(SHARED, 'datasets/coral_test_images/cat.bmp'), join(photos, 'a_cat.bmp'));
    copyFileSync(join(SHARED, 'datasets/coral_test_images/hot_dog.jpg'), join(photos, 'c_hot_dog.jpg'));
    data = join(tmp, 'data');
    linkAlpacaSubset(data, 4);
    copyFileSync(huge, join(data, 'alpaca', 'zz_huge.jpg'));
  }, 120_000);

  it('classify --json: a result for every image, no errors, valid JSON', () => {
    const r = mnv2('classify', photos, '--json', '--top', '1');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { results: { file: string; width: number; height: number; top: { label: string }[] }[]; errors: unknown[] };
    expect(doc.errors).toEqual([]);
    expect(doc.results.map((x) => x.file.split('/').pop())).toEqual(['a_cat.bmp', 'b_huge.jpg', 'c_hot_dog.jpg']);
    expect(doc.results[0].top[0].label).toBe('Egyptian cat');
    expect(doc.results[2].top[0].label).toBe('hotdog');
    expect(Math.max(doc.results[1].width, doc.results[1].height)).toBe(4096); // shrunk on the host
  }, 60_000);

  it('train (the huge image in a class folder) and predict over the folder', () => {
    const run = join(tmp, 'run');
    const t = mnv2('train', data, '--image-size', '32', '--epochs', '1', '--val-split', '0', '--out', run);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(t.stdout + t.stderr).not.toMatch(/skipping .*zz_huge/);
    const p = mnv2('predict', run, photos, '--json');
    expect(p.code, p.stderr).toBe(0);
    const doc = JSON.parse(p.stdout) as { results?: unknown[] } | unknown[];
    const results = Array.isArray(doc) ? doc : (doc.results ?? []);
    expect(results).toHaveLength(3);
  }, 120_000);
});
