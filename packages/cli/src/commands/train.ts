// `mnv2 train <data-dir>`: the Keras transfer-learning tutorial. MobileNetV2 base (ImageNet weights,
// frozen, BN in inference mode) + GlobalAveragePooling → Dropout → Dense head, trained with
// augmentation; then optionally fine-tuning from a Keras layer index at a lower learning rate.
// Checkpoints after every epoch in --out (model.safetensors, optimizer.safetensors, history.json,
// curves.html; config.json last, its epochsDone the commit point that --resume continues from).
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { renameSync, rmSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import {
  CacheBudget,
  ImageDataset,
  MobileNetV2,
  layers,
  losses,
  sequential,
  transferLearning,
  DeviceLostError,
  NonFiniteWeightsError,
  checkStepMemory,
  depthwiseFusesInputBn,
  describeMemoryLimits,
  estimateStepMemory,
  pagingSummary,
  KERAS_ALPHAS,
  largestBatch,
  optimizers,
  serializeSafetensors,
  type Callback,
  type OptimizerName,
  type RecipeCheckpoint,
  type TransferLearningResult,
  type WeightMap,
} from '@mnv2/core';
import { writeCurves } from '../train/curves.js';
import { writeAtomic } from '../util/atomic-write.js';
import { writeStatsFile } from '../util/stats-file.js';
import { withFsErrors } from '../util/fs-errors.js';
import { readCheckpoint, writeCheckpoint, type HistoryRow, type Phase, type RunState } from '../train/checkpoint.js';
import { openDataset } from '../data/open-dataset.js';
import { defaultCacheBudget, parseBytes } from '../data/cache-budget.js';
import { baseWeightsPath, loadBaseWeights } from '../weights/base-weights.js';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { tuneOnFirstUse } from '../tuning-file.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { precisionFlag } from '../util/precision.js';

const HELP = `mnv2 train <data> [options]

Transfer learning as in the Keras MobileNetV2 tutorial. <data> is one of:
  - a folder with one sub-folder of images per class (names may contain spaces; JPEG, PNG, BMP,
    GIF, WebP, TIFF). The split is Keras' image_dataset_from_directory (validation_split, seed):
    the same files as Keras for the same seed;
  - a list file (.csv/.txt) of 'path,label' lines (paths relative to the list file; labels are
    class names or 0..K-1), split the same way;
  - a CIFAR-10 binary folder (data_batch_1..5.bin, test_batch.bin from cifar-10-binary.tar.gz):
    trains on the data batches, validates on test_batch.bin; --image-size defaults to 32.
2 classes → Dense(1) + sigmoid binary cross-entropy; more → Dense(K) + sparse softmax
cross-entropy. Files that cannot be decoded are reported by name and skipped.

Options:
  --val-split F        validation fraction (default 0.2; 0 = none)
  --seed N             split/shuffle/augmentation/dropout seed (default 42)
  --image-size S       square input size (default 160; 32 for CIFAR-10)
  --batch-size B       images per step (default 32, Keras' default). Any size runs: tensors larger
                       than the adapter's per-buffer limit are split along the batch, exactly. A
                       batch larger than the device's memory is refused up front with the largest
                       that fits; 'auto' picks that (at most 256)
  --epochs N           epochs with the base frozen (default 10)
  --lr F               learning rate (default 1e-3)
  --optimizer NAME     adam | rmsprop | sgd (default adam)
  --lr-schedule NAME   constant | cosine (Keras CosineDecay over each phase's steps; default constant)
  --alpha A            MobileNetV2 width (default 1.0; must match --weights)
  --weights PATH       ImageNet base: a Keras .h5 (see 'mnv2 weights fetch --no-top'), a folder of
                       TF-Slim .npy files or a .safetensors file (Keras names).
                       Default: $MNV2_WEIGHTS, else ../shared/weights/tfslim_npy_mobilenet_v2_1.0_224
                       in a checkout, else Keras' official no-top weights for --alpha and the
                       image size, fetched once into ~/.cache/mnv2/weights ($MNV2_CACHE).
  --no-augment         no RandomFlip/RandomRotation (the frozen phase then trains on cached features)
  --cache-budget SIZE  GPU memory for caches (e.g. 512M, 2G; 0 = none): resized images as uint8 in
                       pages, then frozen-base features; a split that does not fit streams (decoded
                       per batch, ahead of the GPU), features that do not fit are recomputed. Same
                       results either way. Default: a quarter of host memory, at most 4 GiB
  --dropout F          dropout before the Dense layer (default 0.2)
  --hidden-units N     add Dense(N, relu) before the classifier (the CIFAR-10 lab: 128)
  --label-mode M       binary (2 classes: Dense(1), sigmoid; the default for 2 classes) or int
                       (Dense(K), softmax, sparse categorical cross-entropy; the default for more);
                       categorical (Keras' one-hot labels) trains the same as int
  --fine-tune-at N     after the frozen epochs, unfreeze base layers with Keras index >= N
                       (kerasLayers order; BN stays in inference mode)
  --fine-tune-epochs N extra epochs of fine-tuning (default 10 when --fine-tune-at is given)
  --fine-tune-lr F     fine-tuning learning rate (default lr/10)
  --out DIR            run folder (default ./mnv2-run): model.safetensors, optimizer.safetensors,
                       config.json, history.json,
                       curves.html (accuracy/loss curves, fine-tuning start marked)
  --force              overwrite an existing run folder
  --early-stopping-patience N
                       stop a phase (frozen or fine-tune) when val_loss has not improved for N
                       epochs (Keras EarlyStopping(monitor='val_loss', patience=N)); needs --val-split > 0
  --resume             continue the interrupted run in --out from its last checkpoint (model,
                       optimizer, best weights and early-stopping state restored; flags taken from
                       config.json): the result equals an uninterrupted run
  --precision P        f32 (default) or f16: activations (and those kept for backward) stored as f16,
                       gradients, weights and optimizer state f32 (needs 'shader-f16')
  --restore-best       at the end, write the weights of the epoch with the lowest val_loss as
                       model.safetensors (kept as best.safetensors meanwhile; Keras restore_best_weights)

Ctrl-C stops after the current step and saves a checkpoint there (--resume continues mid-epoch);
a second Ctrl-C quits at once, keeping the last checkpoint.

Example:
  mnv2 train ../shared/datasets/alpaca/dataset --epochs 5 --fine-tune-at 120 --fine-tune-epochs 3`;

const RUN_FILES = ['checkpoint.safetensors', 'model.safetensors', 'config.json', 'history.json', 'curves.html'];
/** Where `--force` keeps the previous run's files until the new run commits its first checkpoint. */
const ASIDE = '.previous-run';

/**
 * `--force`: moves the previous run's files into DIR/.previous-run (renames: nothing is copied or
 * lost). When that folder already exists, an earlier --force run died before its first checkpoint:
 * the folder still holds the last committed run, and the files beside it are that dead run's.
 */
async function setAside(dir: string): Promise<string> {
  const aside = join(dir, ASIDE);
  if (existsSync(aside)) {
    for (const f of RUN_FILES) await rm(join(dir, f), { force: true });
    return aside;
  }
  await mkdir(aside);
  for (const f of RUN_FILES) if (existsSync(join(dir, f))) await rename(join(dir, f), join(aside, f));
  return aside;
}

/** Puts the set-aside run back (synchronous: it runs in the process 'exit' handler). */
function restoreAside(dir: string, aside: string): void {
  for (const f of RUN_FILES) {
    rmSync(join(dir, f), { force: true });
    if (existsSync(join(aside, f))) renameSync(join(aside, f), join(dir, f));
  }
  rmSync(aside, { recursive: true, force: true });
}

const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(4));
const fmtTime = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`);

export async function train(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const C = 'train';
  const args = parseArgs(
    argv,
    {
      values: ['val-split', 'seed', 'image-size', 'batch-size', 'epochs', 'lr', 'optimizer', 'alpha', 'weights', 'dropout', 'fine-tune-at', 'fine-tune-epochs', 'fine-tune-lr', 'out', 'early-stopping-patience', 'lr-schedule', 'hidden-units', 'label-mode', 'cache-budget', 'precision'],
      booleans: ['no-augment', 'force', 'restore-best', 'resume'],
    },
    C,
  );
  const resume = args.flags.has('resume');
  const precision = precisionFlag(args, C);
  // --resume: the run's flags come from its config.json; flags given again must agree with it.
  let prev: Record<string, unknown> | null = null;
  if (resume) {
    if (args.flags.has('force')) throw new Error('train: --resume and --force contradict each other (--force starts the run over)');
    const dir = resolve(String(args.flags.get('out') ?? 'mnv2-run'));
    const cfgPath = join(dir, 'config.json');
    if (!existsSync(cfgPath)) throw new Error(`train: --resume: ${cfgPath} not found (no checkpoint to resume from; pass the --out of an interrupted run)`);
    try {
      prev = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`train: --resume: ${cfgPath} is not valid JSON (${(err as Error).message})`);
    }
    if (prev.command !== 'train' || typeof prev.epochsDone !== 'number') throw new Error(`train: --resume: ${cfgPath} is not the config of a 'mnv2 train' run`);
    const conflict = (flag: string, given: unknown, was: unknown) => {
      if (given !== was) throw new Error(`train: --resume: --${flag} ${String(given)} conflicts with the run's ${JSON.stringify(was)} (in ${cfgPath}); drop the flag to keep the run's value`);
    };
    if (args.positionals.length > 1) throw new Error(`train: expected at most one data folder with --resume, got ${args.positionals.length}`);
    if (args.positionals.length === 1) conflict('data-dir', resolve(args.positionals[0]), prev.dataDir);
    else args.positionals.push(String(prev.dataDir));
    const cfgFlag: [string, string][] = [
      ['val-split', 'valSplit'],
      ['seed', 'seed'],
      ['image-size', 'imageSize'],
      ['batch-size', 'batchSize'],
      ['epochs', 'epochs'],
      ['lr', 'lr'],
      ['optimizer', 'optimizer'],
      ['alpha', 'alpha'],
      ['weights', 'weights'],
      ['fine-tune-at', 'fineTuneAt'],
      ['fine-tune-epochs', 'fineTuneEpochs'],
      ['fine-tune-lr', 'fineTuneLr'],
      ['lr-schedule', 'lrSchedule'],
      ['hidden-units', 'hiddenUnits'],
      ['early-stopping-patience', 'earlyStoppingPatience'],
      ['label-mode', 'labelModeFlag'],
    ];
    for (const [flag, key] of cfgFlag) {
      const was = prev[key];
      if (args.flags.has(flag)) {
        const raw = args.flags.get(flag);
        const given = flag === 'optimizer' || flag === 'lr-schedule' || flag === 'label-mode' ? String(raw) : flag === 'weights' ? (raw === 'none' ? 'none' : resolve(String(raw))) : numberFlag(args, flag, 0, C);
        conflict(flag, given, was);
      } else if (was !== null && was !== undefined) args.flags.set(flag, String(was));
    }
    const dropoutWas = (prev.head as { dropout?: number } | undefined)?.dropout;
    if (args.flags.has('dropout')) conflict('dropout', numberFlag(args, 'dropout', 0, C), dropoutWas);
    else if (dropoutWas !== undefined) args.flags.set('dropout', String(dropoutWas));
    const augWas = prev.augment === null;
    if (args.flags.has('no-augment') && !augWas) throw new Error(`train: --resume: --no-augment conflicts with the run, which trained with augmentation (in ${cfgPath})`);
    if (augWas) args.flags.set('no-augment', true);
    if (args.flags.has('restore-best') && !prev.restoreBest) throw new Error(`train: --resume: --restore-best conflicts with the run, which did not keep its best weights (in ${cfgPath})`);
    if (prev.restoreBest) args.flags.set('restore-best', true);
  }
  if (args.positionals.length !== 1) throw new Error(`train: expected one data folder, got ${args.positionals.length} (see 'mnv2 train --help')`);
  const dataDir = resolve(args.positionals[0]);
  const valSplit = numberFlag(args, 'val-split', 0.2, C);
  const seed = numberFlag(args, 'seed', 42, C);
  const autoBatch = args.flags.get('batch-size') === 'auto';
  if (autoBatch) args.flags.delete('batch-size');
  let batchSize = numberFlag(args, 'batch-size', 32, C);
  const epochs = numberFlag(args, 'epochs', 10, C);
  const lr = numberFlag(args, 'lr', 1e-3, C);
  const alpha = numberFlag(args, 'alpha', 1.0, C);
  const dropout = numberFlag(args, 'dropout', 0.2, C);
  const optName = String(args.flags.get('optimizer') ?? 'adam');
  const fineTuneAt = args.flags.has('fine-tune-at') ? numberFlag(args, 'fine-tune-at', 0, C) : null;
  const fineTuneEpochs = fineTuneAt === null ? 0 : numberFlag(args, 'fine-tune-epochs', 10, C);
  const fineTuneLr = numberFlag(args, 'fine-tune-lr', lr / 10, C);
  const doAugment = !args.flags.has('no-augment');
  const outDir = resolve(String(args.flags.get('out') ?? 'mnv2-run'));
  const force = args.flags.has('force');
  const patience = args.flags.has('early-stopping-patience') ? numberFlag(args, 'early-stopping-patience', 0, C) : null;
  const restoreBest = args.flags.has('restore-best');
  const lrSchedule = String(args.flags.get('lr-schedule') ?? 'constant');
  const hiddenUnits = args.flags.has('hidden-units') ? numberFlag(args, 'hidden-units', 0, C) : null;
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`train: --${name} must be an integer >= ${min}, got ${v}`);
  };
  int('seed', seed, 0);
  if (hiddenUnits !== null) int('hidden-units', hiddenUnits, 1);
  if (!['constant', 'cosine'].includes(lrSchedule)) throw new Error(`train: --lr-schedule must be constant or cosine, got '${lrSchedule}'`);
  int('batch-size', batchSize, 1);
  int('epochs', epochs, 0);
  int('fine-tune-epochs', fineTuneEpochs, 0);
  if (epochs + fineTuneEpochs === 0) {
    throw new Error('train: --epochs 0 with no fine-tuning epochs trains nothing and would write no model: give --epochs N, or --fine-tune-at L with --fine-tune-epochs N');
  }
  if (patience !== null) int('early-stopping-patience', patience, 1);
  if ((patience !== null || restoreBest) && !(valSplit > 0)) throw new Error(`train: ${patience !== null ? '--early-stopping-patience' : '--restore-best'} monitors val_loss: it needs a validation split (--val-split > 0)`);
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`train: --dropout must be in [0, 1), got ${dropout}`);
  if (!['adam', 'rmsprop', 'sgd'].includes(optName)) throw new Error(`train: --optimizer must be adam, rmsprop or sgd, got '${optName}'`);

  // Run folder first: refuse before any expensive work.
  if (!resume && existsSync(outDir) && (await readdir(outDir)).length > 0) {
    if (!force) throw new Error(`train: run folder '${outDir}' exists and is not empty: pass --force to overwrite it, or --out NEW_DIR`);
  }
  // (--force clears the old run only once this run has checked its data and device memory)
  const clearOldRun = !resume && force && existsSync(outDir);

  // Dataset.
  const bad: string[] = [];
  const badPerClass = new Map<string, number>();
  const onBad = (b: { path: string; reason: string }) => {
    bad.push(b.path);
    const cls = relative(dataDir, b.path).split(sep)[0];
    badPerClass.set(cls, (badPerClass.get(cls) ?? 0) + 1);
    console.error(`[mnv2] skipping ${b.reason}`);
  };
  const ds = await openDataset(dataDir, { validationSplit: valSplit, seed, onBad });
  // Class folders whose files could not be decoded: say so once; refuse a class with none left.
  const perClass = new Map<string, number>();
  if (ds.kind === 'folder') {
    for (const src of [ds.train, ds.validation]) for (const l of src?.labels ?? []) perClass.set(ds.classNames[l], (perClass.get(ds.classNames[l]) ?? 0) + 1);
  }
  const warnedClasses = new Set<string>();
  const checkClasses = () => {
    for (const [cls, n] of badPerClass) {
      const total = perClass.get(cls);
      if (total === undefined) continue;
      if (n >= total) throw new Error(`train: class '${cls}' has no images left: all ${total} of its files could not be decoded (named above): fix or replace them, or remove the class folder`);
      if (!warnedClasses.has(cls)) {
        warnedClasses.add(cls);
        console.error(`[mnv2] warning: class '${cls}': ${n} of ${total} files could not be decoded and are skipped`);
      }
    }
  };
  for (const line of ds.describe) console.log(line);
  if (prev && (prev.trainFiles !== ds.trainCount || prev.validationFiles !== ds.validationCount || JSON.stringify(prev.classNames) !== JSON.stringify(ds.classNames))) {
    throw new Error(`train: --resume: ${dataDir} no longer splits as the run did (${prev.trainFiles} training, ${prev.validationFiles} validation files, classes ${JSON.stringify(prev.classNames)}): the data changed`);
  }
  const labelMode = String(args.flags.get('label-mode') ?? (ds.labelMode === 'binary' ? 'binary' : 'int'));
  if (!['binary', 'int', 'categorical'].includes(labelMode)) throw new Error(`train: --label-mode must be binary, int or categorical, got '${labelMode}'`);
  if (labelMode === 'binary' && ds.classNames.length !== 2) throw new Error(`train: --label-mode binary needs exactly 2 classes, the data has ${ds.classNames.length}`);
  // categorical = one-hot labels + categorical cross-entropy: the same loss and gradients as int
  // labels + sparse categorical cross-entropy, which is what runs.
  if (labelMode !== 'binary') ds.labelMode = 'sparse-categorical';
  const lossWhat = ds.labelMode === 'binary' ? 'binary: Dense(1), sigmoid cross-entropy' : `${ds.classNames.length} classes: sparse softmax cross-entropy`;
  if (ds.kind === 'cifar10') console.log(`(${lossWhat})`);
  else console.log(`Using ${ds.trainCount} files for training, ${ds.validationCount} for validation (seed ${seed}; ${lossWhat}).`);
  const size = args.flags.has('image-size') ? numberFlag(args, 'image-size', 160, C) : (ds.nativeSize ?? 160);
  int('image-size', size, 32);

  // Weights ('none' = random initialisation, Keras weights=None).
  const wflag = args.flags.has('weights') ? String(args.flags.get('weights')) : null;
  const wpath = wflag === 'none' ? 'none' : wflag ? resolve(wflag) : await baseWeightsPath({ command: 'train', alpha, size });
  const base = wpath === 'none' ? null : await loadBaseWeights(wpath);
  if (base) {
    if (base.alpha !== null && base.alpha !== alpha) {
      const published = KERAS_ALPHAS.includes(alpha)
        ? `for alpha ${alpha}: 'mnv2 weights fetch --alpha ${alpha} --size ${size === 32 ? 96 : size} --no-top'`
        : `Keras publishes ImageNet MobileNetV2 weights only for alpha ${KERAS_ALPHAS.join(', ')}; for alpha ${alpha} train from scratch with --weights none`;
      throw new Error(`train: weights ${wpath} are MobileNetV2 alpha ${base.alpha}, but --alpha is ${alpha}: pass --alpha ${base.alpha} or other weights (${published})`);
    }
    // Missing or wrongly shaped base tensors: the MobileNetV2 constructor below names them.
  }

  const { engine: e, adapter } = await createNodeEngine({ precision });
  console.log(`[mnv2] adapter: ${describeAdapter(adapter)}${precision === 'f16' ? '; activations f16 (gradients, weights and optimizer f32)' : ''}`);
  console.log(`[mnv2] base: ${base ? base.what : 'random initialisation (--weights none)'}; input ${size}x${size}`);
  const classes = ds.labelMode === 'binary' ? 1 : ds.classNames.length;
  // The Keras tutorial's model, through the Keras-shaped API (the same model.fit users call).
  const baseModel = new MobileNetV2(e, { alpha, inputSize: size, weights: base?.weights ?? null, seed, source: base ? wpath : undefined });
  baseModel.trainable = false;
  const model = sequential(
    [
      ...(doAugment ? [layers.randomFlip('horizontal'), layers.randomRotation(0.2)] : []),
      layers.preprocessInput(),
      baseModel,
      layers.globalAveragePooling2d(),
      layers.dropout(dropout),
      ...(hiddenUnits ? [layers.dense(hiddenUnits, 'relu')] : []),
      layers.dense(classes),
    ],
    { seed },
  );
  const loss = ds.labelMode === 'binary' ? losses.binaryCrossentropy({ fromLogits: true }) : losses.sparseCategoricalCrossentropy({ fromLogits: true });
  // Keras: model.compile(optimizer, loss, metrics); the recipe gives each phase a fresh optimizer.
  model.compile({ optimizer: optimizers[optName as OptimizerName](lr), loss, metrics: ['accuracy'] });
  const denseName = hiddenUnits ? 'dense_1' : 'dense';
  const net = baseModel.net;

  // Device memory, from the network's real shapes, for the heavier of the two phases.
  const phasesToCheck: { what: string; fromLayer: number | null }[] = [{ what: 'frozen base', fromLayer: null }];
  if (fineTuneAt !== null && fineTuneEpochs > 0) phasesToCheck.push({ what: `fine-tuning from layer ${fineTuneAt}`, fromLayer: fineTuneAt });
  const estimates = phasesToCheck.map((ph) => {
    if (ph.fromLayer !== null) baseModel.net.setBaseTrainable(ph.fromLayer);
    const m = { ph, est: estimateStepMemory(net, { training: true, augment: doAugment, fusesInputBn: depthwiseFusesInputBn(e) }) };
    baseModel.trainable = false;
    return m;
  });
  const heaviest = estimates.reduce((a, b) => (b.est.perSampleBytes > a.est.perSampleBytes ? b : a));
  if (autoBatch) {
    // (the device's memory, when known, and its largest buffer, which holds each whole activation)
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const byMemory = largestBatch(heaviest.est, e.deviceMemoryBytes);
    const byBuffer = largestBatch(heaviest.est, undefined, e.maxBufferBytes);
    const cap = e.deviceMemoryBytes === undefined ? 32 : 256;
    const fit = Math.min(cap, byMemory, byBuffer);
    if (fit < 1) throw new Error(`train: --batch-size auto: not even one ${size}x${size} image fits this device's ${describeMemoryLimits(e)}: use a smaller --image-size`);
    batchSize = fit;
    const why =
      fit === byBuffer && byBuffer < cap && byBuffer < byMemory
        ? `the largest whose activations fit this device's largest buffer, ${mib(e.maxBufferBytes)}, at ${size}x${size}, ${heaviest.ph.what}`
        : e.deviceMemoryBytes === undefined
          ? "the device's memory is unknown: Keras' default"
          : `the largest that fits ${mib(e.deviceMemoryBytes)} of device memory at ${size}x${size}, ${heaviest.ph.what}, at most 256`;
    console.log(`[mnv2] --batch-size auto: ${fit} (${why})`);
  } else {
    if (heaviest.ph.fromLayer !== null) baseModel.net.setBaseTrainable(heaviest.ph.fromLayer);
    try {
      checkStepMemory(e, net, batchSize, { training: true, augment: doAugment, what: `a training step at ${size}x${size} (${heaviest.ph.what})` });
    } finally {
      baseModel.trainable = false;
    }
  }
  await tuneOnFirstUse(e, { alpha, inputSize: size, batch: batchSize, log: (s) => console.log(s) });
  // --force: the previous run stays (set aside) until this one commits its first checkpoint; any
  // exit before that (an error, Ctrl-C twice, nothing trained) puts it back.
  let aside = clearOldRun ? await setAside(outDir) : null;
  const restorePrevious = () => {
    if (aside) restoreAside(outDir, aside);
  };
  if (aside) process.once('exit', restorePrevious);

  // Run state (restored by --resume from checkpoint.safetensors, the one commit point).
  let resumed: { state: RunState; optimizerSlots: Record<string, Float32Array>; bestWeights: WeightMap | null } | null = null;
  /** The run's epochs so far (restored on --resume; the recipe's history as it goes). */
  let history: HistoryRow[] = [];
  const ckPath = join(outDir, 'checkpoint.safetensors');
  if (prev) {
    if (!existsSync(ckPath)) {
      const done = typeof prev.epochsDone === 'number' ? prev.epochsDone : 0;
      if (done > 0 || existsSync(join(outDir, 'model.safetensors'))) {
        throw new Error(
          `train: --resume: ${ckPath} is missing, but the run had finished ${done} epoch${done === 1 ? '' : 's'} (its model.safetensors is kept): ` +
            `put the checkpoint back to continue, or start over with --force (the old run stays until the new one saves its first checkpoint)`,
        );
      }
      console.log(`No checkpoint in ${outDir} yet (the run stopped before its first epoch ended): starting from epoch 1`);
    } else {
      const ck = await readCheckpoint(ckPath);
      for (const p of net.params()) {
        const w = ck.weights.get(p.name);
        if (!w) throw new Error(`train: --resume: ${ckPath} has no ${p.name}`);
        if (w.data.length !== p.value.size) throw new Error(`train: --resume: ${ckPath}: ${p.name} has ${w.data.length} values, the network expects ${p.value.size}`);
        e.write(p.value, w.data);
      }
      const st = ck.state;
      resumed = { state: st, optimizerSlots: ck.slots, bestWeights: ck.best };
      history = [...st.history];
      const at = st.within ? `, at step ${st.within.step} of epoch ${st.epochsDone + 1}` : '';
      console.log(`Resuming ${outDir} after epoch ${st.epochsDone}/${epochs + fineTuneEpochs} (${st.phase} phase, ${st.iterations} optimizer steps${at})`);
    }
  }

  // One byte budget for every GPU cache of the run: the training inputs first, then validation, then features.
  const cacheBudget = new CacheBudget(args.flags.has('cache-budget') ? parseBytes(String(args.flags.get('cache-budget'))) : defaultCacheBudget());
  const trainDs = new ImageDataset(ds.train, { batchSize, classNames: ds.classNames, imageSize: [size, size], name: 'training', cacheBudget });
  const valDs = ds.validation ? new ImageDataset(ds.validation, { batchSize, classNames: ds.classNames, imageSize: [size, size], name: 'validation', cacheBudget }) : null;
  const plansShown = new Set<string>();
  const plansSeen: { split: string; what: string; mode: string; message: string }[] = [];

  await withFsErrors(outDir, 'create the run folder', () => mkdir(outDir, { recursive: true }));
  let totalEpochs = epochs + fineTuneEpochs;
  const config = {
    command: 'train',
    dataDir,
    dataKind: ds.kind,
    classNames: ds.classNames,
    labelMode: ds.labelMode,
    labelModeFlag: labelMode,
    alpha,
    imageSize: size,
    preprocess: 'tf',
    padding: 'same',
    epsilon: 1e-3,
    head: { pooling: 'avg', dropout, classes, dense: denseName, hidden: hiddenUnits },
    valSplit,
    seed,
    batchSize,
    epochs,
    lr,
    lrSchedule,
    optimizer: optName,
    hiddenUnits,
    augment: doAugment ? { flip: 'horizontal', rotation: 0.2 } : null,
    fineTuneAt,
    fineTuneEpochs,
    fineTuneLr,
    weights: wpath,
    earlyStoppingPatience: patience,
    restoreBest,
    trainFiles: ds.trainCount,
    validationFiles: ds.validationCount,
  };
  const modelMeta = (epoch: number) => ({ format: 'mnv2', alpha: String(alpha), input_size: String(size), preprocess: 'tf', padding: 'same', epsilon: '0.001', classes: JSON.stringify(ds.classNames), epoch: String(epoch) });
  if (!prev) await writeAtomic(join(outDir, 'config.json'), JSON.stringify({ ...config, epochsDone: 0 }, null, 2) + '\n');

  // One checkpoint file (the commit point), then the user's views of it. The recipe (core's
  // `transferLearning`) hands over a finite snapshot after every epoch and at an interruption.
  const onCheckpoint = async (c: RecipeCheckpoint) => {
    await writeCheckpoint(ckPath, c.weights, c.optimizerSlots, c.bestWeights, c.state);
    if (aside) {
      // committed: the previous run is replaced now
      process.off('exit', restorePrevious);
      await rm(aside, { recursive: true, force: true });
      aside = null;
    }
    const inEpoch = c.state.within;
    await writeAtomic(join(outDir, 'model.safetensors'), serializeSafetensors(c.weights, modelMeta(c.state.epochsDone)));
    await writeAtomic(join(outDir, 'history.json'), JSON.stringify(c.state.history, null, 2) + '\n');
    await writeAtomic(join(outDir, 'config.json'), JSON.stringify({ ...config, epochsDone: c.state.epochsDone, interruptedAt: inEpoch && { epoch: c.state.epochsDone + 1, step: inEpoch.step }, badFiles: bad }, null, 2) + '\n');
    await writeCurves(outDir, c.state.history, { title: `MobileNetV2 training: ${outDir}` });
  };

  // Ctrl-C: the first stops after the current step and checkpoints there; the second quits at once
  // (an atomic write cut short leaves the previous checkpoint).
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts === 1) console.error('\n[mnv2] Ctrl-C: stopping after this step and saving a checkpoint (Ctrl-C again to quit at once, keeping the last checkpoint)');
    else {
      console.error('\n[mnv2] quit; the last checkpoint is kept');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);

  const tty = process.stderr.isTTY;
  const t00 = Date.now();
  // MNV2_FAULT (tests): nan-weights-at-epoch:N turns the weights NaN just before epoch N's
  // checkpoint; device-lost-at-step:N destroys the device after step N.
  const nanAt = /^nan-weights-at-epoch:(\d+)$/.exec(process.env.MNV2_FAULT ?? '');
  const fault = /^device-lost-at-step:(\d+)$/.exec(process.env.MNV2_FAULT ?? '');
  const loseDeviceAt = fault ? Number(fault[1]) : -1;
  let stepsRun = 0;
  let phaseNow: Phase = 'frozen';
  let frozenCached = true; // the plan of the feature/prefix cache says whether it fit the budget
  let announcedCache = false;

  // What the run prints: cache plans and progress, step lines, one line per epoch (Keras verbose=2).
  const cli: Callback = {
    onCachePlan: (p) => {
      if (p.plan.what !== 'inputs') frozenCached = p.plan.mode === 'cached';
      if (!plansShown.has(p.message)) console.log(`  ${p.message}`);
      plansSeen.push({ split: p.split, what: p.plan.what, mode: p.plan.mode, message: p.message });
      plansShown.add(p.message);
    },
    onCacheProgress: (c) => {
      if (tty) process.stderr.write(`\r  caching ${c.what} (${c.split}): ${c.done}/${c.total}   ${c.done === c.total ? '\n' : ''}`);
      else if (c.done === c.total) console.error(`  cached ${c.what} (${c.split}): ${c.total} images`);
      if (c.done === c.total && c.what === 'inputs') checkClasses();
    },
    onBatchEnd: (_batch, b) => {
      const rate = b.images / Math.max(b.seconds, 1e-9);
      const eta = ((b.steps - b.step) * b.seconds) / b.step;
      const line = `  ${b.step}/${b.steps} steps - ${fmtTime(b.seconds)} - ETA ${fmtTime(eta)} - ${rate.toFixed(1)} images/s - loss: ${b.loss.toFixed(4)}`;
      if (tty) process.stderr.write(`\r${line}   `);
      else if (b.step === b.steps) console.error(line);
      if (++stepsRun === loseDeviceAt) e.device.destroy();
    },
    onInterrupt: () => {
      if (tty) process.stderr.write('\n');
    },
    onEpochEnd: (epoch, logs) => {
      if (tty) process.stderr.write('\n');
      checkClasses();
      const fromBlock = net.firstTrainableBlock();
      const note = !frozenCached || doAugment
        ? null
        : phaseNow === 'frozen'
          ? '  (base frozen, no augmentation: the head trains on cached base features)'
          : fromBlock > 0
            ? `  (no augmentation: the frozen layers below ${fromBlock === net.blocks.length ? 'Conv_1' : `block_${fromBlock}`} run once per image; their output is cached)`
            : null;
      if (!announcedCache && note) console.log(note);
      announcedCache = true;
      console.log(`Epoch ${epoch + 1}/${totalEpochs} - ${(logs.seconds ?? 0).toFixed(1)}s - loss: ${logs.loss.toFixed(4)} - accuracy: ${(logs.accuracy ?? NaN).toFixed(4)} - val_loss: ${fmt(logs.val_loss ?? null)} - val_accuracy: ${fmt(logs.val_accuracy ?? null)}`);
      if (nanAt && epoch + 1 === Number(nanAt[1])) {
        const p = net.trainableParams()[0];
        e.write(p.value, new Float32Array(p.value.size).fill(NaN));
      }
    },
  };

  let result: TransferLearningResult;
  try {
    result = await transferLearning(model, trainDs, {
      epochs,
      learningRate: lr,
      optimizer: optName as OptimizerName,
      fineTuneAt,
      fineTuneEpochs,
      fineTuneLearningRate: fineTuneLr,
      lrSchedule: lrSchedule as 'constant' | 'cosine',
      earlyStoppingPatience: patience,
      restoreBestWeights: restoreBest,
      validationData: valDs,
      seed,
      cacheBudget,
      callbacks: [cli],
      resume: resumed,
      shouldStop: () => interrupts > 0,
      onPhase: (p) => {
        phaseNow = p.phase;
        totalEpochs = p.totalEpochs;
        announcedCache = false;
        if (p.phase === 'fine-tune') console.log(`Fine-tuning from layer ${fineTuneAt}: ${p.unfrozen.length} base layers with weights train (${p.unfrozen[0] ?? '-'} … ${p.unfrozen[p.unfrozen.length - 1] ?? '-'}), ${p.trainableTensors} trainable tensors, lr ${p.learningRate}`);
      },
      onEpoch: (row) => {
        history.push(row);
      },
      onCheckpoint,
      onEarlyStop: (epoch, bestLoss) => {
        console.log(`Epoch ${epoch + 1}: early stopping (val_loss has not improved for ${patience} epoch${patience! > 1 ? 's' : ''}; best ${bestLoss.toFixed(4)})`);
      },
    });
  } catch (err) {
    if (err instanceof NonFiniteWeightsError) {
      throw new Error(
        `train: ${err.message}. ${history.length > 0 && existsSync(ckPath) ? `The last good checkpoint and model are kept in ${outDir}.` : 'Nothing was saved.'} Try a lower ${err.phase === 'fine-tune' ? '--fine-tune-lr' : '--lr'}.`,
      );
    }
    // A lost GPU (driver reset, another process, a test's fault injection) ends the run; the last
    // checkpoint is intact, and --resume continues from it.
    if (!(err instanceof DeviceLostError)) throw err;
    throw new Error(`train: ${err.message}\n${history.length ? `The checkpoint of epoch ${history.length} is in ${outDir}` : `No epoch had finished, so no checkpoint was written in ${outDir}`}: continue with 'mnv2 train --out ${outDir} --resume'.`);
  }
  process.off('SIGINT', onSigint);
  const outcome = result.outcome;
  if (outcome === 'diverged' && result.diverged) {
    if (tty) process.stderr.write('\n');
    const d = result.diverged;
    const lrFlag = d.phase === 'fine-tune' ? '--fine-tune-lr' : '--lr';
    console.error(
      `train: the loss ${Number.isFinite(d.loss) ? `exploded to ${d.loss.toPrecision(3)}` : `became ${d.loss}`} at epoch ${d.epoch + 1}, step ${d.step + 1}: training diverged and stopped. ` +
        `${history.length ? `The last good checkpoint and model (epoch ${history.length}) are kept in ${outDir}.` : 'No checkpoint was written.'} Try a lower ${lrFlag}.`,
    );
  }
  if (outcome === 'interrupted') {
    const st = result.state;
    console.log(
      st.within
        ? `Interrupted at step ${st.within.step} of epoch ${st.epochsDone + 1}: checkpoint saved in ${outDir}. Continue with: mnv2 train --out ${outDir} --resume`
        : `Interrupted after epoch ${st.epochsDone}: checkpoint saved in ${outDir}. Continue with: mnv2 train --out ${outDir} --resume`,
    );
  }
  const kept = result.best;
  if (outcome === 'done' && restoreBest && kept) {
    await writeAtomic(join(outDir, 'model.safetensors'), serializeSafetensors(kept.weights, modelMeta(kept.epoch)));
    await writeAtomic(join(outDir, 'config.json'), JSON.stringify({ ...config, epochsDone: history.length, restoredEpoch: kept.epoch, badFiles: bad }, null, 2) + '\n');
    console.log(`Restored the weights of epoch ${kept.epoch} (best val_loss ${kept.valLoss.toFixed(4)}) into ${join(outDir, 'model.safetensors')}`);
  }
  if (bad.length) console.log(`Skipped ${bad.length} file${bad.length > 1 ? 's' : ''} that could not be decoded (listed above).`);
  const peak = `peak device memory ${(e.pool.peakBytes / 2 ** 20).toFixed(0)} MiB${e.deviceMemoryBytes !== undefined ? ` of ${(e.deviceMemoryBytes / 2 ** 20).toFixed(0)}` : ''}`;
  const paging = pagingSummary(e);
  if (paging) console.log(`[mnv2] ${paging}`);
  console.log(`${outcome === 'interrupted' ? 'Stopped' : outcome === 'diverged' ? 'Stopped (diverged)' : 'Done'} in ${fmtTime((Date.now() - t00) / 1000)} (${peak}). Run folder: ${outDir}`);
  // MNV2_STATS_FILE: peak memory and the cache paths as JSON (for 'mnv2 bench scale').
  await writeStatsFile(e, t00, { plans: plansSeen, history, badFiles: bad.length });
  trainDs.dispose();
  valDs?.dispose();
  model.dispose();
  e.destroy();
  return outcome === 'done' ? 0 : outcome === 'interrupted' ? 130 : 1;
}
