// `mnv2 classify <image or folder>…`: ImageNet top-k with a pretrained MobileNetV2. Images are decoded
// on the CPU (sharp; BMP by our parser), resized + scaled on the GPU, and run through the fused
// inference path in batches; the next batch decodes while the GPU works on the current one.
import { buildClassifier, classify as classifyBatch, describeMemoryLimits, estimateStepMemory, largestBatch, pagingSummary, prepareImages, topK, type ClassLabels, type CropMode, type RgbImage } from '@mnv2/core';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { tuneOnFirstUse } from '../tuning-file.js';
import { decodeImage } from '../data/decode.js';
import { JsonStreamWriter } from '../util/json-stream.js';
import { writeStatsFile } from '../util/stats-file.js';
import { expandImageInputs } from '../data/image-inputs.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { precisionFlag, PRECISION_HELP } from '../util/precision.js';
import { findLabels, loadClassifierWeights } from '../weights/load.js';
import { classifierWeights } from '../weights/auto.js';

const HELP = `mnv2 classify <image or folder>… [--weights PATH] [--top 5] [--crop none|center|F]
                [--batch-size 8] [--image-size N] [--labels FILE] [--precision f32|f16] [--json]

Classifies images with a pretrained MobileNetV2 (ImageNet, 1000 classes) and prints the most likely
classes with their probabilities. A folder means every image in it (JPEG, PNG, BMP, GIF, WebP, TIFF),
in name order, run in batches with a progress line on stderr.

Options:
  --weights PATH    A MobileNetV2 classifier: .tflite (float or quantized, run in float),
                    .safetensors (Keras names), or a folder of TF-Slim .npy files with the head.
                    Default: $MNV2_WEIGHTS, else the shared TFLite copies of a development checkout
                    (../shared/weights/tflite/); else Keras' official MobileNetV2 1.0/224 ImageNet
                    .h5, fetched once into the cache ($MNV2_CACHE, else ~/.cache/mnv2/weights) with
                    Keras' class names ($MNV2_WEIGHTS_BASE_URL / $MNV2_LABELS_URL: mirrors).
  --top K           How many classes to show per image (default 5).
  --crop MODE       none (default): resize the whole image to the input size, like Keras'
                    load_img(target_size=...) (bilinear, no antialias); center: the largest centred
                    square, then resize; a fraction F in (0,1]: TF-Slim's central_crop(F) (0.875 is
                    its evaluation crop), then resize.
  --batch-size N    Images per GPU batch (default 8).
  --image-size N    Run the network at NxN instead of the size its weights were trained at (224 for
                    the shipped files). MobileNetV2 is convolutional, so any size from 32 works;
                    smaller is faster (96: ~5x fewer operations than 224) and less accurate, as
                    Keras' own weights for 96..192 are separate trainings.
  --labels FILE     Class names: a text file (one per line, 1001 lines with background first for
                    TF-Slim models) or Keras' imagenet_class_index.json. Default: labels/ beside the
                    weights' folder, or the shared copies; else "class N".
  --json            One JSON document on stdout (results, and errors per file), written as
                    each batch finishes.
${PRECISION_HELP}

Examples:
  mnv2 classify cat.jpg
  mnv2 classify photos/ --top 3 --batch-size 16
  mnv2 classify cat.jpg --weights mobilenet_v2_1.0_224_quant.tflite --json`;

export interface ClassifyResult {
  file: string;
  width: number;
  height: number;
  top: { rank: number; index: number; kerasIndex: number | null; label: string; synset?: string; probability: number }[];
}

function parseCrop(v: string | true | undefined): CropMode {
  if (v === undefined) return 'none';
  if (v === 'none' || v === 'center') return v;
  const f = Number(v);
  if (v !== true && Number.isFinite(f) && f > 0 && f <= 1) return f;
  throw new Error(`classify: --crop must be none, center or a fraction in (0,1], got '${String(v)}'`);
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`classify: --${name} must be a positive integer, got ${v}`);
  return v;
}

type Decoded = { file: string; image?: RgbImage; error?: string };

const decodeAll = (files: string[]): Promise<Decoded[]> =>
  Promise.all(
    files.map((file) =>
      decodeImage(file).then(
        (image) => ({ file, image }),
        (e: unknown) => ({ file, error: e instanceof Error ? e.message : String(e) }),
      ),
    ),
  );

export async function classify(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['weights', 'top', 'crop', 'batch-size', 'image-size', 'labels', 'precision'], booleans: ['json'] }, 'classify');
  if (args.positionals.length === 0) {
    console.error(`mnv2 classify: name at least one image or folder.\n\n${HELP}`);
    return 2;
  }
  const top = positiveInt(numberFlag(args, 'top', 5, 'classify'), 'top');
  let batchSize = positiveInt(numberFlag(args, 'batch-size', 8, 'classify'), 'batch-size');
  const imageSize = args.flags.has('image-size') ? positiveInt(numberFlag(args, 'image-size', 224, 'classify'), 'image-size') : undefined;
  if (imageSize !== undefined && imageSize < 32) throw new Error(`classify: --image-size must be 32 or more (MobileNetV2 halves it five times), got ${imageSize}`);
  const crop = parseCrop(args.flags.get('crop'));
  const precision = precisionFlag(args, 'classify');
  const json = args.flags.has('json');
  const str = (name: string) => {
    const v = args.flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };

  const files = await expandImageInputs(args.positionals, 'classify');
  const { path: weightsPath, labels: fetchedLabels } = await classifierWeights(str('weights'), 'classify');
  const t0 = performance.now();
  const loaded = await loadClassifierWeights(weightsPath);
  const info = imageSize === undefined ? loaded.info : { ...loaded.info, inputSize: imageSize };
  if (info.classes < 2) {
    throw new Error(
      `classify: ${loaded.path} has a ${info.classes}-output head (a binary model trained with 'mnv2 train'?), not a classifier over classes: ` +
        "softmax over one output is always 100 %. Use 'mnv2 predict RUN-DIR IMAGES' with the run folder it came from",
    );
  }
  const labels: ClassLabels = await findLabels(weightsPath, info.classes, str('labels') ?? fetchedLabels);

  const { engine: e, adapter } = await createNodeEngine({ precision });
  const net = buildClassifier(e, loaded.weights, info);
  const started = Date.now();
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`[mnv2] weights: ${loaded.path} — ${loaded.description}${imageSize !== undefined ? `; run at ${imageSize}x${imageSize}` : ''}`);
  log(`[mnv2] labels: ${labels.source}; adapter: ${describeAdapter(adapter)}${precision === 'f16' ? '; activations f16' : ''}; loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Any batch runs (tensors above the adapter's binding limit run in pages); the device's memory (when
  // known) and its largest buffer (each whole activation is one) cap it.
  {
    const limits = describeMemoryLimits(e);
    const fit = largestBatch(estimateStepMemory(net, { training: false }), e.deviceMemoryBytes, e.maxBufferBytes);
    if (fit < 1) throw new Error(`classify: one ${net.inputSize}x${net.inputSize} image does not fit this device's ${limits}`);
    if (batchSize > fit) {
      log(`[mnv2] --batch-size ${batchSize} does not fit this device's ${limits} at ${net.inputSize}x${net.inputSize}: using ${fit}`);
      batchSize = fit;
    }
  }

  await tuneOnFirstUse(e, { alpha: info.alpha, inputSize: info.inputSize, batch: batchSize, log });
  const errors: { file: string; error: string }[] = [];
  // --json streams one document: results are written as their batch finishes (any folder size).
  const out = json ? new JsonStreamWriter() : null;
  await out?.begin(
    {
      weights: { path: loaded.path, format: loaded.format, alpha: info.alpha, inputSize: info.inputSize, classes: info.classes, background: info.background },
      labels: labels.source,
      crop,
    },
    'results',
  );
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += batchSize) batches.push(files.slice(i, i + batchSize));
  const showProgress = batches.length > 1;
  const tty = process.stderr.isTTY === true;
  const tRun = performance.now();
  let done = 0;

  let pending: Promise<Decoded[]> | null = decodeAll(batches[0]);
  for (let b = 0; b < batches.length; b++) {
    const decoded: Decoded[] = await pending!;
    pending = b + 1 < batches.length ? decodeAll(batches[b + 1]) : null; // decode ahead while the GPU runs
    const ok = decoded.filter((d): d is Decoded & { image: RgbImage } => !!d.image);
    for (const d of decoded) {
      if (d.error === undefined) continue;
      errors.push({ file: d.file, error: d.error });
      if (tty && showProgress) process.stderr.write('\n');
      log(`mnv2: ${d.error}`);
    }
    if (ok.length > 0) {
      e.batches.begin(ok.length); // the last, smaller batch runs in the full batches' idle buffers
      const x = prepareImages(
        e,
        ok.map((d) => d.image),
        { size: info.inputSize, crop, preprocess: info.preprocess },
      );
      const probs = await classifyBatch(e, net, x);
      x.dispose();
      e.batches.end();
      for (const [i, d] of ok.entries()) {
        const r: ClassifyResult = {
          file: d.file,
          width: d.image.width,
          height: d.image.height,
          top: topK(probs[i], top).map((p, rank) => ({
            rank: rank + 1,
            index: p.index,
            kerasIndex: info.background ? (p.index === 0 ? null : p.index - 1) : p.index,
            label: labels.names[p.index] ?? `class ${p.index}`,
            ...(labels.synsets?.[p.index] ? { synset: labels.synsets[p.index] } : {}),
            probability: p.probability,
          })),
        };
        if (out) await out.item(r);
        else printResult(r, tty && showProgress);
      }
    }
    done += decoded.length;
    if (showProgress) {
      const s = (performance.now() - tRun) / 1000;
      const line = `[mnv2] ${done}/${files.length} images, ${s.toFixed(1)} s (${(done / s).toFixed(2)} images/s)`;
      process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    }
  }
  if (showProgress && tty) process.stderr.write('\n');
  const paging = pagingSummary(e);
  if (paging) log(`[mnv2] ${paging}`);
  await writeStatsFile(e, started, { images: files.length, errors: errors.length, precision });
  e.destroy();

  await out?.end({ errors });
  if (errors.length > 0) {
    log(`mnv2: ${errors.length} of ${files.length} file${files.length > 1 ? 's' : ''} could not be classified: ${errors.map((x) => x.file).join(', ')}`);
    return 1;
  }
  return 0;
}

function printResult(r: ClassifyResult, clearProgress: boolean): void {
  const lines = [`${r.file} (${r.width}x${r.height})`];
  const w = Math.max(...r.top.map((t) => t.label.length));
  for (const t of r.top) lines.push(`  ${String(t.rank).padStart(2)}. ${t.label.padEnd(w)}  ${(100 * t.probability).toFixed(2).padStart(6)}%`);
  if (clearProgress) process.stderr.write('\r\x1b[K');
  process.stdout.write(`${lines.join('\n')}\n`);
}
