// The Node entry point of the Keras-shaped API: everything of `@mnv2/core` plus Node's pieces
// (Dawn engine, reading folders/CIFAR-10 files, model files). Importing it registers the platform:
// `MobileNetV2.pretrained`, `model.save` and `loadModel` then work without further setup.
//
//   import { MobileNetV2, sequential, layers, adam, losses, imageDatasetFromDirectory } from '@mnv2/cli/node';
/**
 * Node entry point: `@mnv2/core` (Keras-shaped API included) plus Dawn, disk datasets, CIFAR-10 and model files.
 * @module @mnv2/cli/node
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  CIFAR10_CLASSES,
  DatasetError,
  ImageDataset,
  cifar10Images,
  concatCifar10,
  datasetFromImages,
  folderDataset,
  parseCifar10,
  registerKerasPlatform,
  type FitImage,
  type WeightMap,
} from '@mnv2/core';
import { createNodeEngine } from './node-gpu.js';
import { FolderSplitSource, listImageFolder } from './data/image-folder.js';
import { decodeImage } from './data/decode.js';
import { writeAtomic } from './util/atomic-write.js';
import { defaultBaseWeightsPath, loadBaseWeights } from './weights/base-weights.js';

export * from '@mnv2/core';
export { createNodeEngine, describeAdapter } from './node-gpu.js';

// ---- files -----------------------------------------------------------------------------------

/** Writes a file atomically (temp file, fsync, rename; `util/atomic-write.ts`), creating the parent folder. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true });
  await writeAtomic(path, data);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `'${path}' does not exist` : `cannot read '${path}': ${(e as Error).message}`);
  }
}

/** Decodes an image file (JPEG, PNG, BMP, GIF, WebP, TIFF) to RGB bytes, e.g. for `model.predict([...])`. */
export async function loadImage(path: string): Promise<FitImage> {
  const d = await decodeImage(path);
  return { width: d.width, height: d.height, rgb: d.rgb };
}

// ---- weights ---------------------------------------------------------------------------------

/** Where `weights: 'imagenet'` is read from: `MNV2_WEIGHTS`, else the shared TF-Slim dump next to a dev checkout. */
export function imagenetWeightsPath(): string {
  return defaultBaseWeightsPath();
}

/**
 * Reads MobileNetV2 weights by path: a Keras .h5, a .safetensors file (Keras names) or a folder of
 * TF-Slim .npy files; `'imagenet'` = {@link imagenetWeightsPath}. Checks the width against `alpha`.
 */
export async function loadWeightsFrom(spec: string, opts: { alpha?: number } = {}): Promise<WeightMap> {
  const path = spec === 'imagenet' ? imagenetWeightsPath() : spec;
  const { weights, alpha } = await loadBaseWeights(path);
  if (opts.alpha !== undefined && alpha !== null && alpha !== opts.alpha) throw new Error(`weights '${path}' are MobileNetV2 alpha ${alpha}, but alpha ${opts.alpha} was asked for`);
  return weights;
}

registerKerasPlatform({
  createEngine: async () => (await createNodeEngine()).engine,
  loadWeights: (spec, o) => loadWeightsFrom(spec, o),
  readFile: readBytes,
  writeFile: writeFileAtomic,
});

// ---- image_dataset_from_directory ------------------------------------------------------------

/** Options of {@link imageDatasetFromDirectory} (Keras `image_dataset_from_directory` names). */
export interface ImageDatasetFromDirectoryOptions {
  /** Fraction held out for validation (needs `subset`). */
  validationSplit?: number;
  /** Which part to return when `validationSplit` is set; 'both' returns `[training, validation]`. */
  subset?: 'training' | 'validation' | 'both';
  /** Shuffle/split seed (Keras: the same files as Keras for the same seed). Default: random. */
  seed?: number;
  /** `[height, width]`, square (default [256, 256] as Keras). */
  imageSize?: readonly [number, number];
  batchSize?: number;
  /** 'int' (default) or 'binary'; 'categorical' (one-hot) is not supported. */
  labelMode?: 'int' | 'binary';
  /** Shuffle the file order (default true). */
  shuffle?: boolean;
  cropToAspectRatio?: boolean;
  /** Print Keras' "Found N files belonging to K classes." lines (default true). */
  verbose?: boolean;
  /** Called once per file that cannot be decoded (it is skipped). */
  onBadImage?: (b: { path: string; reason: string }) => void;
}

/**
 * Keras `tf.keras.utils.image_dataset_from_directory(dir, ...)`: one sub-folder of images per class
 * (class names sorted), files split as Keras does for the same seed.
 */
export async function imageDatasetFromDirectory(dir: string, opts: ImageDatasetFromDirectoryOptions & { subset: 'both' }): Promise<[ImageDataset, ImageDataset]>;
/** One subset (or, without `validationSplit`, every file) as a dataset. */
export async function imageDatasetFromDirectory(dir: string, opts?: ImageDatasetFromDirectoryOptions): Promise<ImageDataset>;
export async function imageDatasetFromDirectory(dir: string, opts: ImageDatasetFromDirectoryOptions = {}): Promise<ImageDataset | [ImageDataset, ImageDataset]> {
  const labelMode = (opts.labelMode ?? 'int') as string;
  if (labelMode !== 'int' && labelMode !== 'binary') throw new DatasetError(`imageDatasetFromDirectory: labelMode '${labelMode}' is not supported (use 'int' or 'binary'; pair 'int' with sparseCategoricalCrossentropy)`);
  const split = opts.validationSplit ?? 0;
  if (split > 0 && !opts.subset) throw new DatasetError("imageDatasetFromDirectory: with validationSplit, pass subset: 'training', 'validation' or 'both' (as Keras requires)");
  if (opts.subset && !(split > 0)) throw new DatasetError(`imageDatasetFromDirectory: subset '${opts.subset}' needs validationSplit > 0`);
  const shuffle = opts.shuffle ?? true;
  const seed = opts.seed ?? Math.floor(Math.random() * 1e6);
  const root = resolve(dir);
  const listing = await listImageFolder(root);
  if (labelMode === 'binary' && Object.keys(listing).length !== 2) throw new DatasetError(`imageDatasetFromDirectory: labelMode 'binary' needs exactly 2 class folders, '${root}' has ${Object.keys(listing).length}`);
  const ds = folderDataset(listing, { validationSplit: split, seed, shuffle, root });
  const say = (s: string) => {
    if (opts.verbose ?? true) console.log(s);
  };
  say(`Found ${ds.samples.length} files belonging to ${ds.classNames.length} classes.`);
  const size = opts.imageSize ?? [256, 256];
  const make = (samples: typeof ds.train, name: string) =>
    new ImageDataset(new FolderSplitSource(root, samples, opts.onBadImage), { batchSize: opts.batchSize ?? 32, classNames: ds.classNames, imageSize: size, labelMode: labelMode as 'int' | 'binary', cropToAspectRatio: opts.cropToAspectRatio, name });
  if (!opts.subset) return make(ds.train, root);
  if (opts.subset === 'training' || opts.subset === 'both') say(`Using ${ds.train.length} files for training.`);
  if (opts.subset === 'validation' || opts.subset === 'both') say(`Using ${ds.validation.length} files for validation.`);
  if (opts.subset === 'training') return make(ds.train, `${root} (training)`);
  if (opts.subset === 'validation') return make(ds.validation, `${root} (validation)`);
  return [make(ds.train, `${root} (training)`), make(ds.validation, `${root} (validation)`)];
}

// ---- CIFAR-10 --------------------------------------------------------------------------------

/** Where to get the CIFAR-10 binary files. */
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';

/** Options of {@link loadCifar10}. */
export interface LoadCifar10Options {
  batchSize?: number;
  /** Use at most this many training / test records (the first ones of the files). */
  limit?: { train?: number; test?: number };
}

/**
 * Keras `tf.keras.datasets.cifar10.load_data()` from the binary version on disk: `dir` holds
 * data_batch_1.bin … data_batch_5.bin and test_batch.bin (or their `cifar-10-batches-bin` folder).
 * Images stay 32x32 RGB; the model resizes them to its input size.
 */
export async function loadCifar10(dir: string, opts: LoadCifar10Options = {}): Promise<{ train: ImageDataset; test: ImageDataset; classNames: string[] }> {
  let root = resolve(dir);
  if (existsSync(join(root, 'cifar-10-batches-bin'))) root = join(root, 'cifar-10-batches-bin');
  if (!existsSync(root)) throw new DatasetError(`CIFAR-10 folder '${root}' does not exist: download ${CIFAR10_URL} and extract it (tar xzf cifar-10-binary.tar.gz), then pass the cifar-10-batches-bin folder`);
  const files = await readdir(root);
  const trainFiles = files.filter((f) => /^data_batch_\d+\.bin$/.test(f)).sort();
  if (!trainFiles.length || !files.includes('test_batch.bin')) {
    throw new DatasetError(`'${root}' has no CIFAR-10 binary files (data_batch_1.bin … data_batch_5.bin, test_batch.bin): download ${CIFAR10_URL} and extract it`);
  }
  const read = async (f: string) => parseCifar10(await readBytes(join(root, f)), join(root, f));
  const train = concatCifar10(await Promise.all(trainFiles.map(read)));
  const test = await read('test_batch.bin');
  const cut = <T>(a: T[], n?: number) => (n === undefined ? a : a.slice(0, n));
  const mk = (r: typeof test, n: number | undefined, name: string) => {
    const images = cut(cifar10Images(r), n);
    const labels = cut(Array.from(r.labels), n);
    return datasetFromImages(images, labels, { batchSize: opts.batchSize ?? 32, classNames: CIFAR10_CLASSES, name });
  };
  return { train: mk(train, opts.limit?.train, 'cifar10 train'), test: mk(test, opts.limit?.test, 'cifar10 test'), classNames: [...CIFAR10_CLASSES] };
}
