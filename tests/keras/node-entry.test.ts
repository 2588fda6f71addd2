// The Node entry's data loaders: imageDatasetFromDirectory splits like Keras (the alpaca lab's
// 262/65 with seed 42), Keras' argument checks, CIFAR-10 binary files (written with encodeCifar10)
// and clear errors for missing data.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCifar10, folderDataset } from '@mnv2/core';
import { CIFAR10_URL, imageDatasetFromDirectory, loadCifar10, loadWeightsFrom } from '../../packages/cli/src/node.js';
import { listImageFolder } from '../../packages/cli/src/data/image-folder.js';

const ALPACA = new URL('../../../shared/datasets/alpaca/dataset', import.meta.url).pathname;

describe('node entry: datasets', () => {
  it('imageDatasetFromDirectory: the alpaca lab split (seed 42, 0.2) is 262 / 65, the same files as folderDataset', async () => {
    const [train, val] = await imageDatasetFromDirectory(ALPACA, { validationSplit: 0.2, subset: 'both', seed: 42, imageSize: [160, 160], batchSize: 32, verbose: false });
    expect(train.size).toBe(262);
    expect(val.size).toBe(65);
    expect(train.cardinality()).toBe(9);
    expect(val.cardinality()).toBe(3);
    expect(train.classNames).toEqual(['alpaca', 'not alpaca']);
    const ref = folderDataset(await listImageFolder(ALPACA), { validationSplit: 0.2, seed: 42 });
    expect(train.labels).toEqual(ref.train.map((s) => s.label));
    expect(val.labels).toEqual(ref.validation.map((s) => s.label));
    const v2 = await imageDatasetFromDirectory(ALPACA, { validationSplit: 0.2, subset: 'validation', seed: 42, imageSize: [160, 160], verbose: false });
    expect(v2.labels).toEqual(val.labels);
    const b = await val.firstBatch();
    expect(b.images.length).toBe(32);
    expect(b.images[0].rgb.length).toBe(b.images[0].width * b.images[0].height * 3);
  });

  it('imageDatasetFromDirectory: Keras argument errors', async () => {
    await expect(imageDatasetFromDirectory(ALPACA, { validationSplit: 0.2, verbose: false })).rejects.toThrow(/pass subset/);
    await expect(imageDatasetFromDirectory(ALPACA, { labelMode: 'categorical' as 'int', verbose: false })).rejects.toThrow(/labelMode 'categorical' is not supported/);
    await expect(imageDatasetFromDirectory('/nonexistent/dir', { verbose: false })).rejects.toThrow(/does not exist/);
  });

  it('loadCifar10 reads the binary batch files; missing files name the download URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnv2-cifar-unit-'));
    const n = 7;
    const images = new Uint8Array(n * 3072).map((_, i) => (i * 37) % 251);
    const labels = [0, 1, 2, 3, 9, 8, 7];
    writeFileSync(join(dir, 'data_batch_1.bin'), encodeCifar10(images.subarray(0, 5 * 3072), labels.slice(0, 5)));
    writeFileSync(join(dir, 'test_batch.bin'), encodeCifar10(images.subarray(5 * 3072), labels.slice(5)));
    const { train, test, classNames } = await loadCifar10(dir, { batchSize: 2 });
    expect(classNames[9]).toBe('truck');
    expect(train.size).toBe(5);
    expect(test.labels).toEqual([8, 7]);
    expect(train.cardinality()).toBe(3);
    const b = await train.firstBatch();
    expect(b.labels).toEqual([0, 1]);
    expect(b.images[1].width).toBe(32);
    expect(Array.from(b.images[1].rgb.subarray(0, 6))).toEqual(Array.from(images.subarray(3072, 3078)));
    const empty = mkdtempSync(join(tmpdir(), 'mnv2-cifar-empty-'));
    mkdirSync(join(empty, 'x'));
    await expect(loadCifar10(empty)).rejects.toThrow(CIFAR10_URL);
    await expect(loadCifar10('/nonexistent/cifar')).rejects.toThrow(CIFAR10_URL);
  });

  it('loadWeightsFrom: clear errors', async () => {
    await expect(loadWeightsFrom('/nonexistent/w.safetensors')).rejects.toThrow(/not found/);
  });
});
