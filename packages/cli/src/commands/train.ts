// `mnv2 train <data-dir>`: the Keras transfer-learning tutorial. MobileNetV2 base (ImageNet weights,
// frozen, BN in inference mode) + GlobalAveragePooling → Dropout → Dense head, trained with
// augmentation; then optionally fine-tuning from a Keras layer index at a lower learning rate.
// Checkpoints after every epoch in --out (model.safetensors, optimizer.safetensors, history.json,
// curves.html; config.json last, its epochsDone the commit point that --resume continues from).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MobileNetV2Net,
  ImageBatches,
  adam,
  checkWeights,
  expectedWeights,
  fit,
  folderDataset,
  formatCheck,
  importKerasH5,
  importTfSlim,
  networkWeights,
  parseSafetensors,
  rmsprop,
  serializeSafetensors,
  setFineTuneAt,
  sgd,
  weightSource,
  type FitEvent,
  type Optimizer,
  type WeightMap,
} from '@mnv2/core';
import { writeCurves } from '../train/curves.js';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { FolderSplitSource, listImageFolder } from '../data/image-folder.js';

const HELP = `mnv2 train <data-dir> [options]

Transfer learning as in the Keras MobileNetV2 tutorial. <data-dir> holds one sub-folder of images
per class (names may contain spaces). 2 classes → Dense(1) + sigmoid binary cross-entropy; more →
Dense(K) + sparse softmax cross-entropy. The split is Keras' image_dataset_from_directory
(validation_split, seed): the same files as Keras for the same seed.

Options:
  --val-split F        validation fraction (default 0.2; 0 = none)
  --seed N             split/shuffle/augmentation/dropout seed (default 42)
  --image-size S       square input size (default 160)
  --batch-size B       (default 32)
  --epochs N           epochs with the base frozen (default 10)
  --lr F               learning rate (default 1e-3)
  --optimizer NAME     adam | rmsprop | sgd (default adam)
  --alpha A            MobileNetV2 width (default 1.0; must match --weights)
  --weights PATH       ImageNet base: a Keras .h5 (see 'mnv2 weights fetch --no-top'), a folder of
                       TF-Slim .npy files or a .safetensors file (Keras names).
                       Default: ../shared/weights/tfslim_npy_mobilenet_v2_1.0_224.
  --no-augment         no RandomFlip/RandomRotation (the frozen phase then trains on cached features)
  --dropout F          dropout before the Dense layer (default 0.2)
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
  --resume             continue the interrupted run in --out from its last checkpoint (config.json
                       epochsDone; model and optimizer state restored; flags taken from config.json)
  --restore-best       at the end, write the weights of the epoch with the lowest val_loss as
                       model.safetensors (kept in memory; Keras restore_best_weights)

Example:
  mnv2 train ../shared/datasets/alpaca/dataset --epochs 5 --fine-tune-at 120 --fine-tune-epochs 3`;

const DEFAULT_WEIGHTS = 'weights/tfslim_npy_mobilenet_v2_1.0_224';

function repoRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mnv2') return dir;
      } catch {
        // keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function defaultWeightsPath(): string {
  const root = repoRoot();
  const candidates = [root && resolve(root, '../shared', DEFAULT_WEIGHTS), resolve(process.cwd(), '../shared', DEFAULT_WEIGHTS)].filter((p): p is string => !!p);
  for (const p of candidates) if (existsSync(p)) return p;
  throw new Error(`train: no ImageNet weights found (looked for ${candidates.join(', ')}): pass --weights PATH (a TF-Slim .npy folder or a .safetensors file of MobileNetV2 alpha 1.0)`);
}

async function loadBase(path: string): Promise<{ weights: WeightMap; alpha: number | null; what: string }> {
  if (!existsSync(path)) throw new Error(`train: weights '${path}' not found`);
  if (/\.(h5|hdf5)$/i.test(path)) {
    // Keras' own files (`mnv2 weights fetch --no-top` puts one in the cache).
    const h = await importKerasH5(await readFile(path), { file: path });
    return { weights: h.weights, alpha: h.alpha, what: `Keras .h5 ${path} (alpha ${h.alpha})` };
  }
  if (path.endsWith('.safetensors')) {
    const st = parseSafetensors(await readFile(path), path);
    return { weights: st.weights, alpha: null, what: `safetensors ${path}` };
  }
  const names = (await readdir(path)).filter((f) => f.endsWith('.npy'));
  if (!names.length) throw new Error(`train: weights folder '${path}' has no .npy files (expected a TF-Slim MobileNetV2 dump)`);
  const files: Record<string, Uint8Array> = {};
  for (const f of names) files[f] = await readFile(join(path, f));
  const r = importTfSlim(files);
  return { weights: r.weights, alpha: r.alpha, what: `TF-Slim .npy folder ${path} (alpha ${r.alpha})` };
}

/** Writes a file atomically: temp file, fsync, rename. */
async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
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
      values: ['val-split', 'seed', 'image-size', 'batch-size', 'epochs', 'lr', 'optimizer', 'alpha', 'weights', 'dropout', 'fine-tune-at', 'fine-tune-epochs', 'fine-tune-lr', 'out', 'early-stopping-patience'],
      booleans: ['no-augment', 'force', 'restore-best', 'resume'],
    },
    C,
  );
  const resume = args.flags.has('resume');
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
    if (prev.restoreBest || (prev.earlyStoppingPatience ?? null) !== null) throw new Error('train: --resume does not support runs with --restore-best or --early-stopping-patience (their state over past epochs is not checkpointed)');
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
    ];
    for (const [flag, key] of cfgFlag) {
      const was = prev[key];
      if (args.flags.has(flag)) {
        const raw = args.flags.get(flag);
        const given = flag === 'optimizer' ? String(raw) : flag === 'weights' ? resolve(String(raw)) : numberFlag(args, flag, 0, C);
        conflict(flag, given, was);
      } else if (was !== null && was !== undefined) args.flags.set(flag, String(was));
    }
    const dropoutWas = (prev.head as { dropout?: number } | undefined)?.dropout;
    if (args.flags.has('dropout')) conflict('dropout', numberFlag(args, 'dropout', 0, C), dropoutWas);
    else if (dropoutWas !== undefined) args.flags.set('dropout', String(dropoutWas));
    const augWas = prev.augment === null;
    if (args.flags.has('no-augment') && !augWas) throw new Error(`train: --resume: --no-augment conflicts with the run, which trained with augmentation (in ${cfgPath})`);
    if (augWas) args.flags.set('no-augment', true);
    if (args.flags.has('early-stopping-patience') || args.flags.has('restore-best')) throw new Error('train: --resume does not take --early-stopping-patience or --restore-best');
  }
  if (args.positionals.length !== 1) throw new Error(`train: expected one data folder, got ${args.positionals.length} (see 'mnv2 train --help')`);
  const dataDir = resolve(args.positionals[0]);
  const valSplit = numberFlag(args, 'val-split', 0.2, C);
  const seed = numberFlag(args, 'seed', 42, C);
  const size = numberFlag(args, 'image-size', 160, C);
  const batchSize = numberFlag(args, 'batch-size', 32, C);
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
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`train: --${name} must be an integer >= ${min}, got ${v}`);
  };
  int('seed', seed, 0);
  int('image-size', size, 32);
  int('batch-size', batchSize, 1);
  int('epochs', epochs, 0);
  int('fine-tune-epochs', fineTuneEpochs, 0);
  if (patience !== null) int('early-stopping-patience', patience, 1);
  if ((patience !== null || restoreBest) && !(valSplit > 0)) throw new Error(`train: ${patience !== null ? '--early-stopping-patience' : '--restore-best'} monitors val_loss: it needs a validation split (--val-split > 0)`);
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`train: --dropout must be in [0, 1), got ${dropout}`);
  if (!['adam', 'rmsprop', 'sgd'].includes(optName)) throw new Error(`train: --optimizer must be adam, rmsprop or sgd, got '${optName}'`);
  const makeOpt = (learningRate: number): Optimizer => (optName === 'rmsprop' ? rmsprop({ learningRate }) : optName === 'sgd' ? sgd({ learningRate }) : adam({ learningRate }));

  // Run folder first: refuse before any expensive work.
  if (!resume && existsSync(outDir) && (await readdir(outDir)).length > 0) {
    if (!force) throw new Error(`train: run folder '${outDir}' exists and is not empty: pass --force to overwrite it, or --out NEW_DIR`);
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'config.json', 'history.json', 'curves.html']) await rm(join(outDir, f), { force: true });
  }

  // Dataset.
  const listing = await listImageFolder(dataDir);
  const ds = folderDataset(listing, { validationSplit: valSplit, seed, root: dataDir });
  console.log(`Found ${ds.samples.length} files belonging to ${ds.classNames.length} classes: ${ds.classNames.map((c) => `'${c}'`).join(', ')}.`);
  if (prev && (prev.trainFiles !== ds.train.length || prev.validationFiles !== ds.validation.length || JSON.stringify(prev.classNames) !== JSON.stringify(ds.classNames))) {
    throw new Error(`train: --resume: ${dataDir} no longer splits as the run did (${prev.trainFiles} training, ${prev.validationFiles} validation files, classes ${JSON.stringify(prev.classNames)}): the data folder changed`);
  }
  console.log(`Using ${ds.train.length} files for training, ${ds.validation.length} for validation (seed ${seed}; ${ds.labelMode === 'binary' ? 'binary: Dense(1), sigmoid cross-entropy' : `${ds.classNames.length} classes: sparse softmax cross-entropy`}).`);

  // Weights.
  const wpath = args.flags.has('weights') ? resolve(String(args.flags.get('weights'))) : defaultWeightsPath();
  const base = await loadBase(wpath);
  if (base.alpha !== null && base.alpha !== alpha) throw new Error(`train: weights ${wpath} are MobileNetV2 alpha ${base.alpha}, but --alpha is ${alpha}: pass --alpha ${base.alpha} or other weights`);
  const baseCheck = checkWeights(new Map([...base.weights].filter(([n]) => !n.startsWith('predictions/') && !n.startsWith('dense/'))), expectedWeights(alpha));
  if (baseCheck.missing.length || baseCheck.mismatched.length) {
    throw new Error(`train: weights ${wpath} do not hold a MobileNetV2 alpha ${alpha} base:\n${formatCheck({ ...baseCheck, unexpected: [] })}`);
  }

  const { engine: e, adapter } = await createNodeEngine();
  console.log(`[mnv2] adapter: ${describeAdapter(adapter)}`);
  console.log(`[mnv2] base: ${base.what}; input ${size}x${size}`);
  const classes = ds.labelMode === 'binary' ? 1 : ds.classNames.length;
  const net = new MobileNetV2Net(e, {
    alpha,
    inputSize: size,
    head: { classes, pooling: 'avg', dropout, denseName: 'dense' },
    weights: weightSource(base.weights, { source: wpath }),
    seed,
  });
  net.setBaseTrainable(false);

  // --resume: the checkpoint's model and optimizer. model.safetensors and optimizer.safetensors are
  // written before config.json, so they hold epoch epochsDone, or epochsDone + 1 when the run was
  // killed after writing them but before config.json (then they agree with each other and with history.json).
  let startEpoch = 0;
  let resumedOpt: { phase: string; iterations: number; slots: Record<string, Float32Array> } | null = null;
  const history: Record<string, number | null>[] = [];
  if (prev) {
    const modelPath = join(outDir, 'model.safetensors');
    const optPath = join(outDir, 'optimizer.safetensors');
    if (!existsSync(modelPath) || !existsSync(optPath)) throw new Error(`train: --resume: ${outDir} has no ${!existsSync(modelPath) ? 'model.safetensors' : 'optimizer.safetensors'} (a run from an older mnv2 cannot be resumed)`);
    const st = parseSafetensors(await readFile(modelPath), modelPath);
    const os = parseSafetensors(await readFile(optPath), optPath);
    const done = prev.epochsDone as number;
    const mEpoch = Number(st.metadata.epoch);
    const oEpoch = Number(os.metadata.epoch);
    const hist = JSON.parse(await readFile(join(outDir, 'history.json'), 'utf8')) as Record<string, number | null>[];
    if (mEpoch !== oEpoch || (mEpoch !== done && mEpoch !== done + 1) || hist.length < mEpoch) {
      throw new Error(`train: --resume: the checkpoint in ${outDir} is inconsistent (config.json epochsDone ${done}, model.safetensors epoch ${mEpoch}, optimizer.safetensors epoch ${oEpoch}, history.json ${hist.length} epochs)`);
    }
    startEpoch = mEpoch;
    history.push(...hist.slice(0, mEpoch));
    for (const p of net.params()) {
      const w = st.weights.get(p.name);
      if (!w) throw new Error(`train: --resume: ${modelPath} has no ${p.name}`);
      if (w.data.length !== p.value.size) throw new Error(`train: --resume: ${modelPath}: ${p.name} has ${w.data.length} values, the network expects ${p.value.size}`);
      e.write(p.value, w.data);
    }
    const slots: Record<string, Float32Array> = {};
    for (const [name, t] of os.weights) slots[name] = t.data;
    resumedOpt = { phase: os.metadata.phase, iterations: Number(os.metadata.iterations), slots };
    console.log(`Resuming ${outDir} after epoch ${startEpoch}/${epochs + fineTuneEpochs} (${resumedOpt.phase} phase, ${resumedOpt.iterations} optimizer steps)`);
  }

  const bad: string[] = [];
  const onBad = (b: { path: string; reason: string }) => {
    bad.push(b.path);
    console.error(`[mnv2] skipping ${b.reason}`);
  };
  const data = {
    train: new ImageBatches(e, new FolderSplitSource(dataDir, ds.train, onBad), { imageSize: size }),
    validation: ds.validation.length ? new ImageBatches(e, new FolderSplitSource(dataDir, ds.validation, onBad), { imageSize: size }) : null,
  };

  await mkdir(outDir, { recursive: true });
  const totalEpochs = epochs + fineTuneEpochs;
  const config = {
    command: 'train',
    dataDir,
    classNames: ds.classNames,
    labelMode: ds.labelMode,
    alpha,
    imageSize: size,
    preprocess: 'tf',
    padding: 'same',
    epsilon: 1e-3,
    head: { pooling: 'avg', dropout, classes, dense: 'dense' },
    valSplit,
    seed,
    batchSize,
    epochs,
    lr,
    optimizer: optName,
    augment: doAugment ? { flip: 'horizontal', rotation: 0.2 } : null,
    fineTuneAt,
    fineTuneEpochs,
    fineTuneLr,
    weights: wpath,
    earlyStoppingPatience: patience,
    restoreBest,
    trainFiles: ds.train.length,
    validationFiles: ds.validation.length,
  };
  const tty = process.stderr.isTTY;
  const t00 = Date.now();
  type Best = { epoch: number; valLoss: number; weights: WeightMap };
  let best = null as Best | null;

  const runPhase = async (phase: 'frozen' | 'fine-tune', from: number, to: number, opt: Optimizer): Promise<boolean> => {
    const stream = fit(e, net, data, {
      epochs: to,
      initialEpoch: from,
      batchSize,
      loss: ds.labelMode,
      optimizer: opt,
      seed,
      augment: doAugment ? { flip: true, rotation: 0.2 } : null,
    });
    let announcedCache = false;
    let phaseBest = Infinity; // Keras EarlyStopping: best and wait reset at each fit call
    let wait = 0;
    for await (const ev of stream as AsyncGenerator<FitEvent>) {
      if (ev.type === 'cache') {
        if (tty) process.stderr.write(`\r  caching ${ev.what} (${ev.split}): ${ev.done}/${ev.total}   ${ev.done === ev.total ? '\n' : ''}`);
        else if (ev.done === ev.total) console.error(`  cached ${ev.what} (${ev.split}): ${ev.total} images`);
      } else if (ev.type === 'skipped') {
        // reported by name through onBad
      } else if (ev.type === 'batch') {
        if (ev.phase === 'train') {
          const rate = ev.images / Math.max(ev.seconds, 1e-9);
          const eta = ((ev.steps - ev.step) * ev.seconds) / ev.step;
          const line = `  ${ev.step}/${ev.steps} steps - ${fmtTime(ev.seconds)} - ETA ${fmtTime(eta)} - ${rate.toFixed(1)} images/s - loss: ${ev.loss.toFixed(4)}`;
          if (tty) process.stderr.write(`\r${line}   `);
          else if (ev.step === ev.steps) console.error(line);
        }
      } else if (ev.type === 'diverged') {
        if (tty) process.stderr.write('\n');
        console.error(
          `train: the loss became ${ev.loss} at epoch ${ev.epoch + 1}, step ${ev.step + 1}: training stopped. ${history.length ? `The last good checkpoint (epoch ${history.length}) is in ${outDir}.` : 'No checkpoint was written.'} Try a lower --lr.`,
        );
        return false;
      } else if (ev.type === 'epoch') {
        if (tty) process.stderr.write('\n');
        if (!announcedCache && ev.featureCache) console.log('  (base frozen, no augmentation: the head trains on cached base features)');
        announcedCache = true;
        console.log(
          `Epoch ${ev.epoch + 1}/${totalEpochs} - ${ev.seconds.toFixed(1)}s - loss: ${ev.loss.toFixed(4)} - accuracy: ${ev.accuracy.toFixed(4)} - val_loss: ${fmt(ev.valLoss)} - val_accuracy: ${fmt(ev.valAccuracy)}`,
        );
        history.push({ epoch: ev.epoch + 1, loss: ev.loss, accuracy: ev.accuracy, val_loss: ev.valLoss, val_accuracy: ev.valAccuracy, seconds: ev.seconds, fine_tune: phase === 'fine-tune' ? 1 : 0 });
        await checkpoint(opt, phase, ev.epoch + 1);
        if (restoreBest && ev.valLoss !== null && (best === null || ev.valLoss < best.valLoss)) best = { epoch: ev.epoch + 1, valLoss: ev.valLoss, weights: await networkWeights(net) };
        if (patience !== null && ev.valLoss !== null) {
          if (ev.valLoss < phaseBest) {
            phaseBest = ev.valLoss;
            wait = 0;
          } else if (++wait >= patience) {
            console.log(`Epoch ${ev.epoch + 1}: early stopping (val_loss has not improved for ${patience} epoch${patience > 1 ? 's' : ''}; best ${phaseBest.toFixed(4)})`);
            break;
          }
        }
      }
    }
    return true;
  };

  // config.json is written last: its epochsDone is the commit point of a checkpoint (--resume).
  const checkpoint = async (opt: Optimizer, phase: 'frozen' | 'fine-tune', epoch: number) => {
    const weights = await networkWeights(net);
    const meta = { format: 'mnv2', alpha: String(alpha), input_size: String(size), preprocess: 'tf', padding: 'same', epsilon: '0.001', classes: JSON.stringify(ds.classNames), epoch: String(epoch) };
    await writeAtomic(join(outDir, 'model.safetensors'), serializeSafetensors(weights, meta));
    const slots: WeightMap = new Map();
    for (const [name, t] of Object.entries(opt.state())) slots.set(name, { shape: [...t.shape], data: await t.read() });
    const optMeta = { format: 'mnv2-optimizer', optimizer: optName, iterations: String(opt.iterations), phase, epoch: String(epoch), fine_tune_at: fineTuneAt === null ? '' : String(fineTuneAt) };
    await writeAtomic(join(outDir, 'optimizer.safetensors'), serializeSafetensors(slots, optMeta));
    await writeAtomic(join(outDir, 'history.json'), JSON.stringify(history, null, 2) + '\n');
    await writeAtomic(join(outDir, 'config.json'), JSON.stringify({ ...config, epochsDone: epoch, badFiles: bad }, null, 2) + '\n');
    await writeCurves(outDir, history, { title: `MobileNetV2 training: ${outDir}` });
  };

  // The optimizer of the phase the checkpoint was taken in, its slots and step count restored.
  const phaseOpt = (phase: 'frozen' | 'fine-tune', learningRate: number): Optimizer => {
    const opt = makeOpt(learningRate);
    if (resumedOpt && resumedOpt.phase === phase) opt.loadState(e, resumedOpt.slots, resumedOpt.iterations);
    return opt;
  };
  let ok = true;
  if (startEpoch < epochs || (startEpoch === 0 && epochs === 0)) ok = await runPhase('frozen', startEpoch, epochs, phaseOpt('frozen', lr));
  if (ok && fineTuneAt !== null && fineTuneEpochs > 0 && startEpoch < epochs + fineTuneEpochs) {
    const layers = setFineTuneAt(net, fineTuneAt);
    const n = net.trainableParams().length;
    console.log(`Fine-tuning from layer ${fineTuneAt}: ${layers.length} base layers with weights train (${layers[0] ?? '-'} … ${layers[layers.length - 1] ?? '-'}), ${n} trainable tensors, lr ${fineTuneLr}`);
    ok = await runPhase('fine-tune', Math.max(epochs, startEpoch), epochs + fineTuneEpochs, phaseOpt('fine-tune', fineTuneLr));
  }
  const kept = best as Best | null; // assigned inside runPhase: TS narrows the let to null here
  if (restoreBest && kept) {
    const meta = { format: 'mnv2', alpha: String(alpha), input_size: String(size), preprocess: 'tf', padding: 'same', epsilon: '0.001', classes: JSON.stringify(ds.classNames), epoch: String(kept.epoch) };
    await writeAtomic(join(outDir, 'model.safetensors'), serializeSafetensors(kept.weights, meta));
    await writeAtomic(join(outDir, 'config.json'), JSON.stringify({ ...config, epochsDone: history.length, restoredEpoch: kept.epoch, badFiles: bad }, null, 2) + '\n');
    console.log(`Restored the weights of epoch ${kept.epoch} (best val_loss ${kept.valLoss.toFixed(4)}) into ${join(outDir, 'model.safetensors')}`);
  }
  if (bad.length) console.log(`Skipped ${bad.length} file${bad.length > 1 ? 's' : ''} that could not be decoded (listed above).`);
  console.log(`Done in ${fmtTime((Date.now() - t00) / 1000)}. Run folder: ${outDir}`);
  data.train.dispose();
  data.validation?.dispose();
  e.destroy();
  return ok ? 0 : 1;
}
