// Datasets like Keras: image files in nested sub-folders of a class folder are found, in Keras'
// os.walk order (so the seeded split picks the same files); a class whose files cannot be decoded
// is named with a warning, and refused when none of its files is left.
import { describe, it, beforeAll, expect } from 'vitest';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderDataset } from '@mnv2/core';
import { listImageFolder } from '../../packages/cli/src/data/image-folder.js';
import { buildCli, mnv2, ALPACA } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';

const touch = (p: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, 'x');
};

describe('nested class folders', () => {
  it("lists nested images in Keras' walk order (the folder first, then sub-folders by path)", async () => {
    const root = mkdtempSync(join(tmpdir(), 'mnv2-nested-'));
    for (const f of ['z.jpg', 'a.png', 'sub/b.jpg', 'sub/a.jpg', 'sub/deeper/c.jpg', 'sub2/a.jpg', '.hidden/x.jpg', 'sub/notes.txt']) touch(join(root, 'cats', f));
    for (const f of ['d1.jpg', 'x/d2.jpg']) touch(join(root, 'dogs', f));
    const listing = await listImageFolder(root);
    expect([...listing.cats].sort()).toEqual(['a.png', 'sub/a.jpg', 'sub/b.jpg', 'sub/deeper/c.jpg', 'sub2/a.jpg', 'z.jpg']);
    const ds = folderDataset(listing, { validationSplit: 0, shuffle: false });
    // sorted(os.walk('cats')): 'cats' < 'cats/sub' < 'cats/sub/deeper' < 'cats/sub2', files sorted in each
    expect(ds.train.filter((s) => s.className === 'cats').map((s) => s.file)).toEqual(['a.png', 'z.jpg', 'sub/a.jpg', 'sub/b.jpg', 'sub/deeper/c.jpg', 'sub2/a.jpg']);
    expect(ds.train.filter((s) => s.className === 'dogs').map((s) => s.file)).toEqual(['d1.jpg', 'x/d2.jpg']);
  });
});

describe(`${GPU} train: nested folders and undecodable classes`, () => {
  let tmp: string;
  beforeAll(() => {
    buildCli();
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-nested-cli-'));
  }, 120_000);

  const link = (dir: string, cls: string, n: number, sub = '') => {
    mkdirSync(join(dir, sub), { recursive: true });
    for (const f of readdirSync(join(ALPACA, cls)).sort().slice(0, n)) symlinkSync(join(ALPACA, cls, f), join(dir, sub, f));
  };

  it('trains on images in nested sub-folders (none dropped) and warns about a class losing files', () => {
    const data = join(tmp, 'nested');
    link(join(data, 'alpaca'), 'alpaca', 2);
    link(join(data, 'alpaca'), 'alpaca', 6, 'more/deeper');
    link(join(data, 'not alpaca'), 'not alpaca', 4, 'sub');
    writeFileSync(join(data, 'not alpaca', 'broken.jpg'), 'not an image');
    const r = mnv2('train', data, '--image-size', '32', '--epochs', '1', '--val-split', '0', '--out', join(tmp, 'run'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Found 13 files belonging to 2 classes/);
    expect(r.stderr).toContain("warning: class 'not alpaca': 1 of 5 files could not be decoded and are skipped");
  }, 120_000);

  it('refuses a class none of whose files can be decoded', () => {
    const data = join(tmp, 'dead-class');
    link(join(data, 'alpaca'), 'alpaca', 4);
    mkdirSync(join(data, 'broken'));
    for (const f of ['a.jpg', 'b.png']) writeFileSync(join(data, 'broken', f), 'garbage');
    const r = mnv2('train', data, '--image-size', '32', '--epochs', '1', '--val-split', '0', '--out', join(tmp, 'run2'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("class 'broken' has no images left: all 2 of its files could not be decoded");
  }, 120_000);
});
