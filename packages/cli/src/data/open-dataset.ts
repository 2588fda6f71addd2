// What `mnv2 train`/`evaluate` accept as data, recognised from the path:
//  - a folder with one sub-folder of images per class (Keras image_dataset_from_directory);
//  - a `path,label` list file (.csv/.txt), paths relative to the list's folder;
//  - a CIFAR-10 binary folder (data_batch_1..5.bin and/or test_batch.bin): training from the
//    data_batch files, validation from test_batch.bin (the Keras CIFAR-10 lab's validation_data),
//    or from --val-split when only one kind is present.
import { existsSync, statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  CIFAR10_CLASSES,
  DatasetError,
  cifar10Images,
  concatCifar10,
  folderDataset,
  imageListDataset,
  memoryImageSource,
  parseCifar10,
  splitRecords,
  type FolderDataset,
  type ImageSplitSource,
  type LabelMode,
} from '@mnv2/core';
import { FolderSplitSource, listImageFolder, type BadImage } from './image-folder.js';

export interface OpenedDataset {
  kind: 'folder' | 'list' | 'cifar10';
  classNames: string[];
  labelMode: LabelMode;
  train: ImageSplitSource;
  validation: ImageSplitSource | null;
  trainCount: number;
  validationCount: number;
  /** Keras-style lines describing what was found and how it was split. */
  describe: string[];
  /** Input size the data was made for (CIFAR-10: 32), when the user gives none. */
  nativeSize: number | null;
}

export interface OpenOptions {
  validationSplit: number;
  seed: number;
  /** All images in file order, no split (evaluate). */
  all?: boolean;
  onBad?: (b: BadImage) => void;
}

const CIFAR_TRAIN = /^data_batch_\d+\.bin$/;

function isCifarFolder(dir: string, names: string[]): boolean {
  return names.some((n) => CIFAR_TRAIN.test(n) || n === 'test_batch.bin') && !names.some((n) => statSync(join(dir, n)).isDirectory() && !n.startsWith('.') && n !== 'cifar-10-batches-bin');
}

async function openCifar10(dir: string, names: string[], o: OpenOptions): Promise<OpenedDataset> {
  const read = async (files: string[]) => concatCifar10(await Promise.all(files.map(async (f) => parseCifar10(await readFile(join(dir, f)), join(dir, f)))));
  const trainFiles = names.filter((n) => CIFAR_TRAIN.test(n)).sort();
  const hasTest = names.includes('test_batch.bin');
  const base = { kind: 'cifar10' as const, classNames: [...CIFAR10_CLASSES], labelMode: 'sparse-categorical' as const, nativeSize: 32 };
  const source = (r: ReturnType<typeof concatCifar10>, idx: number[]) => {
    const imgs = cifar10Images(r);
    return memoryImageSource(
      idx.map((i) => imgs[i]),
      idx.map((i) => r.labels[i]),
    );
  };
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  if (o.all) {
    const files = [...trainFiles, ...(hasTest ? ['test_batch.bin'] : [])];
    const r = await read(files);
    return { ...base, train: source(r, all(r.count)), validation: null, trainCount: r.count, validationCount: 0, describe: [`Found ${r.count} CIFAR-10 images in ${files.join(', ')}.`] };
  }
  if (trainFiles.length && hasTest) {
    const tr = await read(trainFiles);
    const te = await read(['test_batch.bin']);
    return {
      ...base,
      train: source(tr, all(tr.count)),
      validation: source(te, all(te.count)),
      trainCount: tr.count,
      validationCount: te.count,
      describe: [`Found CIFAR-10: ${tr.count} training images (${trainFiles.join(', ')}), ${te.count} test images (test_batch.bin) used for validation.`],
    };
  }
  const files = trainFiles.length ? trainFiles : ['test_batch.bin'];
  const r = await read(files);
  const sp = splitRecords(r, o.validationSplit, o.seed);
  return {
    ...base,
    train: source(r, sp.train),
    validation: sp.validation.length ? source(r, sp.validation) : null,
    trainCount: sp.train.length,
    validationCount: sp.validation.length,
    describe: [`Found ${r.count} CIFAR-10 images in ${files.join(', ')}.`, `Using ${sp.train.length} for training, ${sp.validation.length} for validation (seed ${o.seed}).`],
  };
}

/** Opens a folder-per-class dataset, a `path,label` list file or a CIFAR-10 binary folder. */
export async function openDataset(path: string, o: OpenOptions): Promise<OpenedDataset> {
  if (!existsSync(path)) {
    let why = 'does not exist';
    try {
      statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') why = 'is a symbolic link loop (a link that leads back to itself): fix or remove the link; it should be';
    }
    throw new DatasetError(`dataset '${path}' ${why}: pass a folder with one sub-folder of images per class, a 'path,label' list file, or a CIFAR-10 binary folder`);
  }
  const split = o.all ? { validationSplit: 0, shuffle: false } : { validationSplit: o.validationSplit, seed: o.seed };
  if (statSync(path).isFile()) {
    if (/\.(bin)$/i.test(path)) throw new DatasetError(`'${path}' is a single file: pass the folder holding the CIFAR-10 .bin files (data_batch_*.bin, test_batch.bin)`);
    const text = await readFile(path, 'utf8');
    if (text.includes('\u0000')) throw new DatasetError(`'${path}' is not a text list: a list file has one 'path,label' line per image`);
    const ds = imageListDataset(text, { ...split, file: path });
    return fromSamples('list', ds, dirname(path), o, `Found ${ds.samples.length} files belonging to ${ds.classNames.length} classes in the list ${path}: ${ds.classNames.map((c) => `'${c}'`).join(', ')}.`);
  }
  const names = (await readdir(path)).filter((n) => !n.startsWith('.'));
  if (isCifarFolder(path, names)) return openCifar10(path, names, o);
  const sub = join(path, 'cifar-10-batches-bin'); // the folder the official tarball unpacks to
  if (existsSync(sub) && statSync(sub).isDirectory() && names.length === 1) return openCifar10(sub, await readdir(sub), o);
  const listing = await listImageFolder(path);
  const ds = folderDataset(listing, { ...split, root: path });
  return fromSamples('folder', ds, path, o, `Found ${ds.samples.length} files belonging to ${ds.classNames.length} classes: ${ds.classNames.map((c) => `'${c}'`).join(', ')}.`);
}

/** Image files on disk (folder or list): sources that decode them per batch. */
function fromSamples(kind: 'folder' | 'list', ds: FolderDataset, root: string, o: OpenOptions, found: string): OpenedDataset {
  const train = o.all ? ds.samples : ds.train;
  const validation = o.all ? [] : ds.validation;
  return {
    kind,
    classNames: ds.classNames,
    labelMode: ds.labelMode,
    train: new FolderSplitSource(root, train, o.onBad),
    validation: validation.length ? new FolderSplitSource(root, validation, o.onBad) : null,
    trainCount: train.length,
    validationCount: validation.length,
    describe: [found],
    nativeSize: null,
  };
}
