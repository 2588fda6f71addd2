// The CIFAR-10 binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
// data_batch_1..5.bin and test_batch.bin, each 10000 records of 3073 bytes: 1 label byte (0–9)
// then the 32x32 image as three 1024-byte planes (R, G, B), rows top to bottom. We keep images as
// HWC RGB (our layout everywhere) and give them to `fit` through an in-memory ImageSplitSource.
import { DatasetError, numpyShuffle } from './folder-dataset.js';
import type { FitImage, ImageSplitSource } from './image-batches.js';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD = 1 + 3 * PLANE;

export interface Cifar10Records {
  /** N×32×32×3, HWC RGB. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** Parses one CIFAR-10 binary batch file. */
export function parseCifar10(bytes: Uint8Array, file = 'CIFAR-10 batch'): Cifar10Records {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new DatasetError(
      `${file} is not a CIFAR-10 binary batch: ${bytes.length} bytes is not a multiple of the ${RECORD}-byte record (1 label byte + 3×32×32 pixels). Use the "CIFAR-10 binary version" (cifar-10-binary.tar.gz: data_batch_1.bin … test_batch.bin), not the Python or MATLAB version.`,
    );
  }
  const count = bytes.length / RECORD;
  const images = new Uint8Array(count * PLANE * 3);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const r = n * RECORD;
    const label = bytes[r];
    if (label > 9) throw new DatasetError(`${file}: record ${n} has label ${label} (CIFAR-10 labels are 0–9): the file is corrupt or not CIFAR-10 (CIFAR-100 records are 3074 bytes)`);
    labels[n] = label;
    const out = n * PLANE * 3;
    for (let p = 0; p < PLANE; p++) {
      images[out + p * 3] = bytes[r + 1 + p];
      images[out + p * 3 + 1] = bytes[r + 1 + PLANE + p];
      images[out + p * 3 + 2] = bytes[r + 1 + 2 * PLANE + p];
    }
  }
  return { images, labels, count };
}

/** Writes records in the CIFAR-10 binary format (for tests and small subsets). */
export function encodeCifar10(images: Uint8Array, labels: ArrayLike<number>): Uint8Array {
  const count = labels.length;
  if (images.length !== count * PLANE * 3) throw new DatasetError(`encodeCifar10: ${images.length} bytes of images for ${count} labels (expected ${count * PLANE * 3})`);
  const out = new Uint8Array(count * RECORD);
  for (let n = 0; n < count; n++) {
    const r = n * RECORD;
    const label = labels[n];
    if (!Number.isInteger(label) || label < 0 || label > 9) throw new DatasetError(`encodeCifar10: label ${label} of record ${n} is not in 0–9`);
    out[r] = label;
    const src = n * PLANE * 3;
    for (let p = 0; p < PLANE; p++) {
      out[r + 1 + p] = images[src + p * 3];
      out[r + 1 + PLANE + p] = images[src + p * 3 + 1];
      out[r + 1 + 2 * PLANE + p] = images[src + p * 3 + 2];
    }
  }
  return out;
}

/** Concatenates parsed batches (e.g. data_batch_1..5). */
export function concatCifar10(parts: readonly Cifar10Records[]): Cifar10Records {
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Uint8Array(count * PLANE * 3);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const p of parts) {
    images.set(p.images, n * PLANE * 3);
    labels.set(p.labels, n);
    n += p.count;
  }
  return { images, labels, count };
}

/** The records as images (views into `images`, no copy). */
export function cifar10Images(r: Cifar10Records): FitImage[] {
  return Array.from({ length: r.count }, (_, n) => ({ width: SIDE, height: SIDE, rgb: r.images.subarray(n * PLANE * 3, (n + 1) * PLANE * 3) }));
}

/** An in-memory split (decoded images + labels) for `ImageBatches`. */
export function memoryImageSource(images: readonly FitImage[], labels: readonly number[]): ImageSplitSource {
  if (images.length !== labels.length) throw new DatasetError(`memoryImageSource: ${images.length} images but ${labels.length} labels`);
  return {
    labels,
    load: async (indices) => indices.map((i) => images[i] ?? null),
  };
}

/**
 * A seeded split of records into training and validation (the last `validationSplit` fraction after
 * a NumPy-RandomState shuffle, as image_dataset_from_directory does); split 0 keeps the file order.
 */
export function splitRecords(r: Cifar10Records, validationSplit: number, seed: number): { train: number[]; validation: number[] } {
  if (!(validationSplit >= 0 && validationSplit < 1)) throw new DatasetError(`validation split must be in [0, 1), got ${validationSplit}`);
  const idx = Array.from({ length: r.count }, (_, i) => i);
  if (validationSplit > 0) numpyShuffle(idx, seed);
  const nVal = Math.trunc(validationSplit * r.count);
  return { train: idx.slice(0, r.count - nVal), validation: idx.slice(r.count - nVal) };
}
