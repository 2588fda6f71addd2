// A folder-per-class image dataset, Keras `image_dataset_from_directory` style. Platform-neutral: it
// takes a listing {class folder name → file names} (the CLI lists the disk) and gives the class
// names, the file order and the train/validation split.
//
// Keras (keras/src/utils/dataset_utils.py `index_directory` + `get_training_or_validation_split`):
//   classes = sorted sub-folder names; files per class in sorted order, classes concatenated in class
//   order; when shuffle=True (the default) the path list and the label list are each shuffled with
//   `np.random.RandomState(seed).shuffle`; then val = int(validation_split * n) samples are the LAST
//   val ones (`samples[-val:]`), training the first n - val.
// We reproduce that permutation bit for bit: `RandomState(seed)` seeds MT19937 with init_genrand(seed)
// and the legacy `shuffle` of a Python list is Fisher–Yates from the end, `j = random_interval(i)`
// (mask rejection sampling on 32-bit draws). So with the same folder contents and seed, our training
// and validation files are the same files Keras picks (checked against NumPy in tests). Keras then
// shuffles the training set again each epoch with tf.data's own RNG, which we do not reproduce: our
// per-epoch order is deterministic per seed (`epochOrder`).

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Class folder name → file names inside it (already filtered to images). */
export type FolderListing = Record<string, readonly string[]>;

export type LabelMode = 'binary' | 'sparse-categorical';

export interface Sample {
  /** `<class>/<file>` relative to the dataset root (for a list file: the path as listed, relative to the list's folder). */
  path: string;
  className: string;
  file: string;
  label: number;
}

export interface FolderDataset {
  classNames: string[];
  /** 2 classes → 'binary' (one logit, sigmoid BCE), more → 'sparse-categorical'. */
  labelMode: LabelMode;
  /** Every sample, in Keras order (shuffled with the seed when shuffle is on). */
  samples: Sample[];
  train: Sample[];
  validation: Sample[];
}

export interface FolderDatasetOptions {
  validationSplit?: number; // default 0.2; 0 = no validation set
  seed?: number; // default 42 (the course lab's seed)
  shuffle?: boolean; // default true (Keras' default)
  /** Where the listing came from, for error messages. */
  root?: string;
}

// ---- NumPy legacy RandomState (MT19937) ------------------------------------------------------

/** MT19937 seeded like `np.random.RandomState(seed)` for an integer seed (init_genrand). */
export class Mt19937 {
  private mt = new Uint32Array(624);
  private mti = 625;
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new DatasetError(`seed must be an integer in [0, 2^32 - 1], got ${seed}`);
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      // 1812433253 * prev + i, mod 2^32 (Math.imul keeps the low 32 bits)
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.mti = 624;
  }

  /** genrand_int32 */
  nextUint32(): number {
    const mt = this.mt;
    if (this.mti >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.mti = 0;
    }
    let y = mt[this.mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** NumPy `random_interval(max)`: uniform in [0, max] by masked rejection (max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    while ((v = (this.nextUint32() & mask) >>> 0) > max);
    return v;
  }
}

/** In-place `np.random.RandomState(seed).shuffle(list)` (legacy, 1-D). */
export function numpyShuffle<T>(a: T[], seed: number): T[] {
  const rng = new Mt19937(seed);
  for (let i = a.length - 1; i >= 1; i--) {
    const j = rng.interval(i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

// ---- Dataset ---------------------------------------------------------------------------------

/** Python's sorted() on str: code point order (JS's default sort compares UTF-16 units; same for BMP names). */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Keras' order of a class folder's files, nested ones included: `sorted(os.walk(dir))` (folders by
 * path, the class folder itself first), then the file names of each folder sorted.
 */
const byWalkOrder = (a: string, b: string) => {
  const [da, fa] = splitDir(a);
  const [db, fb] = splitDir(b);
  return da === db ? byCodePoint(fa, fb) : byCodePoint(da, db);
};
const splitDir = (p: string): [string, string] => {
  const i = p.lastIndexOf('/');
  return i < 0 ? ['', p] : [p.slice(0, i), p.slice(i + 1)];
};

export function folderDataset(listing: FolderListing, opts: FolderDatasetOptions = {}): FolderDataset {
  const split = opts.validationSplit ?? 0.2;
  const where = opts.root ? ` in '${opts.root}'` : '';
  if (!(split >= 0 && split < 1)) throw new DatasetError(`validation split must be in [0, 1), got ${split}`);
  const classNames = Object.keys(listing).sort(byCodePoint);
  if (classNames.length === 0) {
    throw new DatasetError(`no class folders${where}: put the images in one sub-folder per class (e.g. dataset/cats/*.jpg, dataset/dogs/*.jpg)`);
  }
  const empty = classNames.filter((c) => listing[c].length === 0);
  const total = classNames.reduce((s, c) => s + listing[c].length, 0);
  if (total === 0) {
    throw new DatasetError(`no images${where}: the class folders (${classNames.map((c) => `'${c}'`).join(', ')}) hold no .jpg/.jpeg/.png/.bmp/.gif/.webp/.tif files`);
  }
  if (empty.length > 0) {
    throw new DatasetError(`class folder${empty.length > 1 ? 's' : ''} ${empty.map((c) => `'${c}'`).join(', ')}${where} ${empty.length > 1 ? 'have' : 'has'} no images: add images or remove the folder`);
  }
  if (classNames.length < 2) {
    throw new DatasetError(`only one class folder ('${classNames[0]}')${where}: a classifier needs at least two sub-folders, one per class`);
  }
  const samples: Sample[] = [];
  classNames.forEach((className, label) => {
    for (const file of [...listing[className]].sort(byWalkOrder)) samples.push({ path: `${className}/${file}`, className, file, label });
  });
  return splitSamples(samples, classNames, opts);
}

/**
 * Keras' split of an ordered sample list: shuffled with `np.random.RandomState(seed)` (when shuffle
 * is on), the last `validationSplit` fraction is the validation set.
 */
export function splitSamples(samples: Sample[], classNames: string[], opts: FolderDatasetOptions = {}): FolderDataset {
  const split = opts.validationSplit ?? 0.2;
  const seed = opts.seed ?? 42;
  if (!(split >= 0 && split < 1)) throw new DatasetError(`validation split must be in [0, 1), got ${split}`);
  // Keras shuffles paths and labels with two RandomStates of the same seed: the same permutation.
  if (opts.shuffle ?? true) numpyShuffle(samples, seed);
  const nVal = Math.trunc(split * samples.length);
  if (split > 0 && nVal === 0) throw new DatasetError(`validation split ${split} of ${samples.length} images leaves no validation images: add images or raise --val-split`);
  const nTrain = samples.length - nVal;
  if (nTrain === 0) throw new DatasetError(`validation split ${split} leaves no training images`);
  return {
    classNames,
    labelMode: classNames.length === 2 ? 'binary' : 'sparse-categorical',
    samples,
    train: samples.slice(0, nTrain),
    validation: samples.slice(nTrain),
  };
}

/** The order of the training samples in an epoch: a seeded permutation of 0..n-1 (different per epoch). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  return numpyShuffle(idx, ((seed >>> 0) * 1000003 + epoch * 7919 + 1) >>> 0);
}
