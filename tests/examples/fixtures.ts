// Small datasets in the real layouts/formats, built in a temp folder from the shared images (never
// copied into the repo): a cats_and_dogs_filtered-style folder (alpaca vs not alpaca) and CIFAR-10
// binary batch files (real photos resized to 32x32, encoded with encodeCifar10).
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeCifar10 } from '@mnv2/core';

export const SHARED = new URL('../../../shared/', import.meta.url).pathname;
export const ALPACA = join(SHARED, 'datasets/alpaca/dataset');
export const REPO = new URL('../../', import.meta.url).pathname;

const files = (cls: string) => readdirSync(join(ALPACA, cls)).filter((f) => f.endsWith('.jpg')).sort();

/** train/{alpaca,not alpaca} (nTrain each) and validation/{…} (nVal each), as symlinks. */
export function catsDogsFolder(nTrain: number, nVal: number): string {
  const root = mkdtempSync(join(tmpdir(), 'mnv2-cvd-'));
  for (const cls of ['alpaca', 'not alpaca']) {
    const f = files(cls);
    for (const [split, list] of [['train', f.slice(0, nTrain)], ['validation', f.slice(nTrain, nTrain + nVal)]] as const) {
      mkdirSync(join(root, split, cls), { recursive: true });
      for (const x of list) symlinkSync(join(ALPACA, cls, x), join(root, split, cls, x));
    }
  }
  return root;
}

/** 32x32 RGB bytes of an image file (stretched, as CIFAR's downsampling). */
async function tiny(path: string): Promise<Uint8Array> {
  const { data } = await sharp(path).rotate().resize(32, 32, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A folder with data_batch_1.bin and test_batch.bin in the CIFAR-10 binary format: alpaca photos as
 * label 7 ('horse'), not-alpaca photos as label 0 ('airplane'); nTrain / nTest per class.
 */
export async function cifarFolder(nTrain: number, nTest: number): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'mnv2-cifar-'));
  const parts: Record<'train' | 'test', { img: Uint8Array[]; lab: number[] }> = { train: { img: [], lab: [] }, test: { img: [], lab: [] } };
  for (const [cls, label] of [['alpaca', 7], ['not alpaca', 0]] as const) {
    const f = files(cls);
    for (const x of f.slice(0, nTrain)) parts.train.img.push(await tiny(join(ALPACA, cls, x))), parts.train.lab.push(label);
    for (const x of f.slice(nTrain, nTrain + nTest)) parts.test.img.push(await tiny(join(ALPACA, cls, x))), parts.test.lab.push(label);
  }
  const cat = (a: Uint8Array[]) => {
    const out = new Uint8Array(a.length * 3072);
    a.forEach((x, i) => out.set(x, i * 3072));
    return out;
  };
  writeFileSync(join(root, 'data_batch_1.bin'), encodeCifar10(cat(parts.train.img), parts.train.lab));
  writeFileSync(join(root, 'test_batch.bin'), encodeCifar10(cat(parts.test.img), parts.test.lab));
  return root;
}
