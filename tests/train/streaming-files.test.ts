// Issue 13: a file that becomes unreadable mid-run (deleted or truncated after the dataset was
// listed) is named and skipped while streaming, and the epoch goes on.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MobileNetV2Net, ImageBatches, CacheBudget, adam, epochOrder, fit, folderDataset, type Engine, type FitEvent } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { ALPACA } from '../helpers/cli.js';
import { FolderSplitSource, listImageFolder, type BadImage } from '../../packages/cli/src/data/image-folder.js';

const tmp = mkdtempSync(join(tmpdir(), 'mnv2-stream-files-'));

beforeAll(() => {
  for (const c of ['alpaca', 'not alpaca']) {
    mkdirSync(join(tmp, c), { recursive: true });
    for (const f of readdirSync(join(ALPACA, c)).sort().slice(0, 5)) copyFileSync(join(ALPACA, c, f), join(tmp, c, f));
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`${GPU} streaming over files that go bad mid-epoch`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  it('a deleted and a truncated file are named and skipped; the epoch trains on the rest', async () => {
    const ds = folderDataset(await listImageFolder(tmp), { validationSplit: 0, seed: 1 });
    const bad: BadImage[] = [];
    const src = new FolderSplitSource(tmp, ds.train, (b) => bad.push(b));
    const S = 32;
    const data = { train: new ImageBatches(e, src, { imageSize: S, budget: new CacheBudget(0) }), validation: null };
    expect(data.train.mode).toBe('streaming');
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: S, head: { classes: 1, pooling: 'avg', dropout: 0 }, seed: 3 });
    net.setBaseTrainable(false);
    // The files break after the listing, during the epoch (after its first batch): the two files of
    // its last batch (seeded order), which the prefetch (1 batch ahead) has not started yet.
    const order = epochOrder(10, 2, 0);
    const [iGone, iCut] = [order[8], order[9]];
    const gone = join(tmp, ds.train[iGone].path);
    const cut = join(tmp, ds.train[iCut].path);
    const events: FitEvent[] = [];
    let broke = false;
    for await (const ev of fit(e, net, data, { epochs: 1, batchSize: 2, loss: 'binary', optimizer: adam({ learningRate: 1e-3 }), seed: 2, augment: { flip: true, rotation: 0 }, prefetch: 1 })) {
      events.push(ev);
      if (ev.type === 'batch' && !broke) {
        broke = true;
        unlinkSync(gone);
        writeFileSync(cut, readFileSync(cut).subarray(0, 300));
      }
    }
    const epoch = events.find((v) => v.type === 'epoch') as Extract<FitEvent, { type: 'epoch' }>;
    const skipped = events.flatMap((v) => (v.type === 'skipped' ? v.indices : [])).sort((a, b) => a - b);
    const batches = events.filter((v) => v.type === 'batch');
    expect(epoch).toBeDefined();
    expect(skipped).toEqual([iGone, iCut].sort((a, b) => a - b));
    expect(epoch.trainImages).toBe(8);
    expect(Number.isFinite(epoch.loss)).toBe(true);
    expect(batches.length).toBe(4); // the last batch had no decodable image left
    const byPath = new Map(bad.map((b) => [b.path, b.reason]));
    expect([...byPath.keys()].sort()).toEqual([gone, cut].sort());
    expect(byPath.get(gone)).toMatch(/no such file/);
    expect(byPath.get(cut)).toMatch(/cannot decode image/);
  });
});
