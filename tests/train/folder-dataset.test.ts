// The Keras image_dataset_from_directory split (CPU): class order, NumPy RandomState shuffle, 262/65
// on the alpaca set, determinism per seed, disjointness, and the error messages.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderDataset, numpyShuffle, Mt19937, epochOrder, DatasetError } from '@mnv2/core';
import { listImageFolder } from '../../packages/cli/src/data/image-folder.js';

const ALPACA = new URL('../../../shared/datasets/alpaca/dataset', import.meta.url).pathname;

describe('folder dataset (Keras image_dataset_from_directory)', () => {
  it('MT19937 and shuffle match NumPy RandomState bit for bit', () => {
    // np.random.RandomState(5).randint(0, 2**32, size=3, dtype=np.uint64) → first genrand_int32 draws
    const r = new Mt19937(5);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([953453411, 236996814, 3739766767]);
    // x = list(range(10)); np.random.RandomState(7).shuffle(x)
    expect(numpyShuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 7)).toEqual([8, 5, 0, 2, 1, 9, 7, 3, 6, 4]);
  });

  it('alpaca: 2 sorted classes, 262/65 split, Keras file order for seed 42, deterministic and disjoint', async () => {
    const listing = await listImageFolder(ALPACA);
    const ds = folderDataset(listing, { validationSplit: 0.2, seed: 42 });
    expect(ds.classNames).toEqual(['alpaca', 'not alpaca']);
    expect(ds.labelMode).toBe('binary');
    expect(ds.samples.length).toBe(327);
    expect(ds.train.length).toBe(262);
    expect(ds.validation.length).toBe(65);
    // Python: sorted per class, concatenated, np.random.RandomState(42).shuffle(paths)
    expect(ds.samples.slice(0, 3).map((s) => s.path)).toEqual(['not alpaca/2cf9d88c613cb98a.jpg', 'alpaca/ba5aaca63e0afe66.jpg', 'not alpaca/4b9ef3ce2685ee32.jpg']);
    expect(ds.validation.slice(0, 3).map((s) => s.path)).toEqual(['not alpaca/8a420e88deb2d6f2.jpg', 'not alpaca/34d2f34ce7edc12c.jpg', 'not alpaca/23340e0a6c0c9ef8.jpg']);
    for (const s of ds.samples) expect(s.label).toBe(s.className === 'alpaca' ? 0 : 1);
    const again = folderDataset(listing, { validationSplit: 0.2, seed: 42 });
    expect(again.validation.map((s) => s.path)).toEqual(ds.validation.map((s) => s.path));
    const train = new Set(ds.train.map((s) => s.path));
    expect(ds.validation.some((s) => train.has(s.path))).toBe(false);
    expect(new Set([...train, ...ds.validation.map((s) => s.path)]).size).toBe(327);
    const other = folderDataset(listing, { validationSplit: 0.2, seed: 7 });
    expect(other.validation.map((s) => s.path)).not.toEqual(ds.validation.map((s) => s.path));
    expect(other.validation.length).toBe(65);
  });

  it('epoch order is a seeded permutation that changes per epoch', () => {
    const a = epochOrder(50, 42, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epochOrder(50, 42, 0)).toEqual(a);
    expect(epochOrder(50, 42, 1)).not.toEqual(a);
  });

  it('more than two classes → sparse categorical', () => {
    const ds = folderDataset({ b: ['1.jpg', '2.jpg'], a: ['1.jpg', '2.jpg'], c: ['x.png', 'y.png'] }, { validationSplit: 0.5, seed: 1 });
    expect(ds.classNames).toEqual(['a', 'b', 'c']);
    expect(ds.labelMode).toBe('sparse-categorical');
    expect(ds.validation.length).toBe(3);
  });

  describe('errors say what to fix', () => {
    const mk = (layout: Record<string, string[]>) => {
      const root = mkdtempSync(join(tmpdir(), 'mnv2-ds-'));
      for (const [c, files] of Object.entries(layout)) {
        mkdirSync(join(root, c));
        for (const f of files) writeFileSync(join(root, c, f), 'x');
      }
      return root;
    };
    const err = async (layout: Record<string, string[]>) => {
      const root = mk(layout);
      try {
        folderDataset(await listImageFolder(root), { root });
        return '';
      } catch (e) {
        expect(e).toBeInstanceOf(DatasetError);
        return (e as Error).message;
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    };
    it('empty class folder', async () => {
      const m = await err({ cats: ['a.jpg', 'b.jpg'], 'no dogs': ['notes.txt'] });
      expect(m).toMatch(/'no dogs'.*has no images: add images or remove the folder/);
    });
    it('single class', async () => {
      expect(await err({ cats: ['a.jpg', 'b.jpg'] })).toMatch(/only one class folder \('cats'\).*at least two sub-folders/);
    });
    it('no class folders / no images', async () => {
      expect(await err({})).toMatch(/no class folders.*one sub-folder per class/);
      expect(await err({ a: [], b: ['x.txt'] })).toMatch(/no images/);
    });
    it('missing folder', async () => {
      await expect(listImageFolder('/nonexistent/mnv2-data')).rejects.toThrow(/does not exist/);
    });
  });
});
