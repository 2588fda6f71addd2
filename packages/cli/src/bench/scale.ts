// `mnv2 bench scale`: does training stay flat in memory as the dataset grows (issue 13)?
// Generates JPEG datasets (~500x375, two classes) from the shared alpaca images with random crops,
// flips and colour jitter (so every file differs), in a temporary folder that is never committed;
// then trains one epoch on each with `mnv2 train` as a user would (160², batch 32, base frozen,
// RandomFlip + RandomRotation(0.2), no validation split), each in its own process, and records its
// peak RSS, the engine's peak device bytes, images/s and which path each cache took.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { seededRandom } from '@mnv2/core';
import { parseArgs, numberFlag } from '../util/args.js';
import { parseBytes } from '../data/cache-budget.js';
import { IMAGE_EXTENSIONS } from '../data/decode.js';

const HELP = `mnv2 bench scale [--sizes 1k,10k,30k] [--modes default,stream] [--cache-budget SIZE]
                 [--source DIR] [--keep DIR] [--image-size 160] [--batch-size 32] [--out FILE]
                 [--predict] [--classify [--classify-size 224]] [--inference-only]

Generates JPEG datasets of the given sizes (about 500x375, two classes, random crops, flips and colour
jitter of the images in --source) in a temporary folder (removed at the end unless --keep DIR, which
also reuses images generated before), then trains one epoch on each with 'mnv2 train' in a child
process (base frozen, augmentation on, no validation split) and reports per run: the path each cache
took, epoch seconds, images/s (the epoch alone, and end to end including decoding and cache fill),
peak RSS and the engine's peak device bytes.

  --sizes LIST         dataset sizes (k = 1000), default 1k,10k,30k
  --modes LIST         'default' = --cache-budget as given, 'stream' = --cache-budget 0 (every
                       image decoded per batch), default: default,stream on the smallest size,
                       default on the others
  --cache-budget SIZE  the budget of 'default' runs (default 512M)
  --source DIR         images to derive from (default ../shared/datasets/alpaca/dataset)
  --out FILE           write the results as markdown (default bench/results/scale-lavapipe.md)
  --merge              keep the rows of an earlier run in --out (a row of the same size and budget
                       is replaced), e.g. to add 30k later
  --predict            also run 'mnv2 predict <run> <data> --json' over each dataset (results
                       streamed to /dev/null) and record its peak RSS and images/s: inference must
                       stay flat in memory too
  --classify           also run 'mnv2 classify <data> --json' (the ImageNet classifier) over each
                       dataset, likewise
  --classify-size N    the classifier's input size (default 224, its weights' size; 96 is ~5x
                       faster, for the largest sizes on a software adapter)
  --inference-only     no training: only the inference runs asked for (the predict runs need the
                       run left in --keep DIR by an earlier bench)
  --predict-only       = --predict --inference-only`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = join(ROOT, 'packages/cli/dist/main.js');

function parseSizes(text: string): number[] {
  return text.split(',').map((t) => {
    const m = /^(\d+(?:\.\d+)?)(k?)$/i.exec(t.trim());
    if (!m) throw new Error(`bench scale: --sizes takes counts such as 1k,10k,30k, got '${t}'`);
    const n = Math.round(Number(m[1]) * (m[2] ? 1000 : 1));
    if (n < 2) throw new Error(`bench scale: a dataset needs at least 2 images, got ${n}`);
    return n;
  });
}

const fmtInt = (n: number) => n.toLocaleString('en-US');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

interface SourceImage {
  className: string;
  bytes: Buffer;
  width: number;
  height: number;
}

async function loadSources(dir: string): Promise<SourceImage[]> {
  const out: SourceImage[] = [];
  for (const c of readdirSync(dir).sort()) {
    const cdir = join(dir, c);
    if (c.startsWith('.') || !statSync(cdir).isDirectory()) continue;
    for (const f of readdirSync(cdir).sort()) {
      if (!IMAGE_EXTENSIONS.some((e) => f.toLowerCase().endsWith(e))) continue;
      const bytes = readFileSync(join(cdir, f));
      try {
        const m = await sharp(bytes).rotate().metadata();
        const w = m.autoOrient?.width ?? m.width;
        const h = m.autoOrient?.height ?? m.height;
        if (w && h) out.push({ className: c, bytes, width: w, height: h });
      } catch {
        // not an image sharp reads: not a source
      }
    }
  }
  if (out.length === 0) throw new Error(`bench scale: no images found in the class folders of ${dir}`);
  // Classes interleaved (image i comes from class i mod K, while each has images left): every prefix is balanced.
  const byClass = [...new Set(out.map((s) => s.className))].map((c) => out.filter((s) => s.className === c));
  const mixed: SourceImage[] = [];
  for (let k = 0; mixed.length < out.length; k++) for (const list of byClass) if (k < list.length) mixed.push(list[k]);
  return mixed;
}

/** Image `i` of the generated pool: a random crop (50–100 % of each side), maybe flipped, colour-jittered, 500x375 JPEG. */
async function makeImage(src: SourceImage, i: number, path: string): Promise<void> {
  const r = seededRandom(0x5ca1e + i * 7919);
  const cw = Math.max(8, Math.floor(src.width * (0.5 + 0.5 * r())));
  const ch = Math.max(8, Math.floor(src.height * (0.5 + 0.5 * r())));
  const left = Math.floor((src.width - cw) * r());
  const top = Math.floor((src.height - ch) * r());
  let img = sharp(src.bytes).rotate().extract({ left, top, width: cw, height: ch });
  if (r() < 0.5) img = img.flop();
  img = img.modulate({ brightness: 0.75 + 0.5 * r(), saturation: 0.6 + 0.8 * r(), hue: Math.floor(-20 + 40 * r()) });
  await img.resize(500, 375, { fit: 'fill' }).jpeg({ quality: 85 }).toFile(path);
}

/** Makes (or completes) `n` images in `pool/<class>/img_<i>.jpg`. Returns seconds spent. */
async function generate(pool: string, sources: SourceImage[], n: number): Promise<number> {
  const t0 = Date.now();
  for (const c of new Set(sources.map((s) => s.className))) mkdirSync(join(pool, c), { recursive: true });
  const todo: number[] = [];
  const pathOf = (i: number) => join(pool, sources[i % sources.length].className, `img_${String(i).padStart(6, '0')}.jpg`);
  for (let i = 0; i < n; i++) if (!existsSync(pathOf(i))) todo.push(i);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < todo.length) {
      const i = todo[next++];
      await makeImage(sources[i % sources.length], i, pathOf(i));
      if (++done % 1000 === 0) process.stderr.write(`\r  generated ${fmtInt(done)}/${fmtInt(todo.length)} images`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(2, cpus().length * 2) }, worker));
  if (todo.length >= 1000) process.stderr.write('\n');
  return (Date.now() - t0) / 1000;
}

/** A dataset folder of the first `n` pool images (symlinks). */
function subset(pool: string, dir: string, n: number, sources: SourceImage[]): void {
  rmSync(dir, { recursive: true, force: true });
  for (const c of new Set(sources.map((s) => s.className))) mkdirSync(join(dir, c), { recursive: true });
  for (let i = 0; i < n; i++) {
    const c = sources[i % sources.length].className;
    const f = `img_${String(i).padStart(6, '0')}.jpg`;
    symlinkSync(join(pool, c, f), join(dir, c, f));
  }
}

interface RunStats {
  seconds: number;
  maxRssBytes: number;
  devicePeakBytes: number;
  plans: { split: string; what: string; mode: string; message: string }[];
  history: { seconds: number | null; loss: number }[];
  badFiles: number;
}

interface Row {
  images: number;
  /** 'default' | 'stream' (training), 'predict' | 'classify' (inference over the same folder). */
  mode: string;
  budget: string;
  stats?: RunStats;
  predict?: PredictStats;
  wall: number;
  error?: string;
  /** 1-minute load average when the run started (other work on the machine slows it). */
  load?: number;
}

interface PredictStats {
  /** The command's input size (absent in rows of earlier reports: the training size). */
  imageSize?: number;
  seconds: number;
  maxRssBytes: number;
  devicePeakBytes: number;
  images: number;
  errors: number;
}

/** One inference command over a dataset's class folders in its own process: `predict` with the bench's run, or `classify` with the ImageNet classifier. */
function inferOnce(kind: 'predict' | 'classify', dir: string, work: string, o: { batch: number; size: number }): { stats?: PredictStats; wall: number; error?: string } {
  const statsFile = join(work, `${kind}-stats-${Date.now()}.json`);
  const classDirs = readdirSync(dir).sort().map((c) => join(dir, c));
  const args =
    kind === 'predict'
      ? [MAIN, 'predict', join(work, 'run'), ...classDirs, '--json', '--batch-size', String(o.batch)]
      : [MAIN, 'classify', ...classDirs, '--json', '--batch-size', String(o.batch), '--image-size', String(o.size)];
  const t0 = Date.now();
  // stdout (the streamed JSON document) goes nowhere: only the process's own memory counts.
  const r = spawnSync(process.execPath, args, { env: { ...process.env, MNV2_STATS_FILE: statsFile }, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const wall = (Date.now() - t0) / 1000;
  if (r.status !== 0 || !existsSync(statsFile)) return { wall, error: `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  const stats = { ...(JSON.parse(readFileSync(statsFile, 'utf8')) as PredictStats), imageSize: o.size };
  rmSync(statsFile, { force: true });
  return { stats, wall };
}

function trainOnce(dir: string, work: string, budget: string, o: { size: number; batch: number }): { stats?: RunStats; wall: number; error?: string } {
  const statsFile = join(work, `stats-${Date.now()}.json`);
  const out = join(work, 'run');
  const args = [MAIN, 'train', dir, '--epochs', '1', '--image-size', String(o.size), '--batch-size', String(o.batch), '--val-split', '0', '--cache-budget', budget, '--out', out, '--force'];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { env: { ...process.env, MNV2_STATS_FILE: statsFile }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const wall = (Date.now() - t0) / 1000;
  for (const line of (r.stdout ?? '').split('\n')) if (/^\s+(inputs|frozen)|Epoch /.test(line)) console.log(`    ${line.trim()}`);
  if (r.status !== 0 || !existsSync(statsFile)) return { wall, error: `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as RunStats;
  rmSync(statsFile, { force: true });
  return { stats, wall };
}

function markdown(rows: Row[], meta: { size: number; batch: number; budget: string; generated: string[]; source: string }): string {
  const lines = [
    '# `mnv2 bench scale` on lavapipe',
    '',
    `Date: ${new Date().toISOString()}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; WebGPU on Mesa lavapipe (software).`,
    `Command per run: \`mnv2 train <data> --epochs 1 --image-size ${meta.size} --batch-size ${meta.batch} --val-split 0 --cache-budget <budget>\` in its own process (base frozen: ImageNet TF-Slim weights; RandomFlip + RandomRotation(0.2); Adam 1e-3).`,
    `Data: JPEGs of about 500x375 generated from ${meta.source} (random crops of 50–100 % per side, horizontal flips, brightness/saturation/hue jitter), two classes. ${meta.generated.join('; ')}.`,
    '',
    '"epoch img/s" counts the training epoch alone (its cache, if any, was filled before it); "end-to-end img/s" divides the images by the whole process time (start-up, weights, decoding, cache fill, epoch, checkpoint). Peak RSS is the process maximum (lavapipe keeps device memory in host RAM, so it includes the GPU buffers); peak device bytes are the engine buffer pool\'s maximum.',
    '',
    '"load" is the 1-minute load average when the run started: on this 2-core machine anything above ~2 means other work competed with the run, and its times are slower.',
    '',
    '| images | cache budget | input path | epoch s | epoch img/s | process s | end-to-end img/s | peak RSS | peak device bytes | load |',
    '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows.filter((x) => x.mode === 'default' || x.mode === 'stream')) {
    if (!r.stats) {
      lines.push(`| ${fmtInt(r.images)} | ${r.budget} | failed: ${r.error ?? '?'} | | | | | | | |`);
      continue;
    }
    const s = r.stats;
    const ep = s.history[0]?.seconds ?? NaN;
    const path = s.plans.filter((p) => p.what === 'inputs').map((p) => p.message.replace(/^inputs \(train\): /, '')).join('; ');
    lines.push(`| ${fmtInt(r.images)} | ${r.budget} | ${path} | ${ep.toFixed(0)} | ${(r.images / ep).toFixed(2)} | ${r.wall.toFixed(0)} | ${(r.images / r.wall).toFixed(2)} | ${mib(s.maxRssBytes)} | ${mib(s.devicePeakBytes)} | ${r.load?.toFixed(1) ?? '—'} |`);
  }
  for (const kind of ['predict', 'classify'] as const) {
    const pr = rows.filter((r) => r.mode === kind);
    if (!pr.length) continue;
    lines.push(
      '',
      kind === 'predict'
        ? `Inference: \`mnv2 predict <run> <data> --json --batch-size ${meta.batch}\` over the same folders with the run trained above, in its own process, the JSON streamed to /dev/null.`
        : `Inference: \`mnv2 classify <data> --json --batch-size ${meta.batch} --image-size <size>\` (the ImageNet classifier, 1,000 classes) over the same folders, in its own process, the JSON streamed to /dev/null.`,
      '',
      `| images | size | ${kind} s | img/s | peak RSS | peak device bytes | load |`,
      '|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of pr) {
      const p = r.predict;
      lines.push(p ? `| ${fmtInt(r.images)} | ${p.imageSize ?? meta.size} | ${p.seconds.toFixed(0)} | ${(r.images / p.seconds).toFixed(2)} | ${mib(p.maxRssBytes)} | ${mib(p.devicePeakBytes)} | ${r.load?.toFixed(1) ?? '—'} |` : `| ${fmtInt(r.images)} | | failed: ${r.error ?? '?'} | | | | |`);
    }
    // Growth between the smallest and the largest dataset run at one size.
    const ok = pr.filter((r) => r.predict);
    for (const size of new Set(ok.map((r) => r.predict!.imageSize ?? meta.size))) {
      const same = ok.filter((r) => (r.predict!.imageSize ?? meta.size) === size).sort((a, b) => a.images - b.images);
      if (same.length < 2) continue;
      const [a, b] = [same[0].predict!, same[same.length - 1].predict!];
      const g = (x: number, y: number) => `${(((y - x) / x) * 100).toFixed(1)} %`;
      lines.push('', `${kind} growth at ${size}² from ${fmtInt(same[0].images)} to ${fmtInt(same[same.length - 1].images)} images: peak RSS ${g(a.maxRssBytes, b.maxRssBytes)}, peak device bytes ${g(a.devicePeakBytes, b.devicePeakBytes)}.`);
    }
  }
  const ok = rows.filter((r) => r.stats);
  const byImages = (mode: string) => ok.filter((r) => r.mode === mode).sort((a, b) => a.images - b.images);
  const d = byImages('default');
  if (d.length >= 2) {
    const [a, b] = [d[0], d[d.length - 1]];
    const g = (x: number, y: number) => `${(((y - x) / x) * 100).toFixed(1)} %`;
    lines.push('', `Growth from ${fmtInt(a.images)} to ${fmtInt(b.images)} images (budget ${meta.budget}): peak RSS ${g(a.stats!.maxRssBytes, b.stats!.maxRssBytes)}, peak device bytes ${g(a.stats!.devicePeakBytes, b.stats!.devicePeakBytes)}.`);
  }
  const small = Math.min(...ok.map((r) => r.images));
  const cached = ok.find((r) => r.images === small && r.mode === 'default' && r.stats!.plans.some((p) => p.what === 'inputs' && p.mode === 'cached'));
  const streamed = ok.find((r) => r.images === small && r.mode === 'stream');
  if (cached && streamed) {
    const ec = small / (cached.stats!.history[0].seconds ?? NaN);
    const es = small / (streamed.stats!.history[0].seconds ?? NaN);
    lines.push('', `Streaming vs cached on ${fmtInt(small)} images: epoch ${((es / ec) * 100).toFixed(0)} % of the cached epoch's images/s; end to end ${(((small / streamed.wall) / (small / cached.wall)) * 100).toFixed(0)} %.`);
  }
  lines.push('', `<!-- rows: ${JSON.stringify(rows)} -->`);
  return lines.join('\n') + '\n';
}

/** Rows stored in an earlier report (the JSON comment at its end). */
function previousRows(file: string): Row[] {
  if (!existsSync(file)) return [];
  const m = /<!-- rows: (.*) -->/.exec(readFileSync(file, 'utf8'));
  return m ? (JSON.parse(m[1]) as Row[]) : [];
}

export async function benchScale(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['sizes', 'modes', 'cache-budget', 'source', 'keep', 'image-size', 'batch-size', 'out', 'classify-size'], booleans: ['merge', 'predict', 'predict-only', 'classify', 'inference-only'] }, 'bench scale');
  const inferenceOnly = args.flags.has('inference-only') || args.flags.has('predict-only');
  const inference: ('predict' | 'classify')[] = [];
  if (args.flags.has('predict') || args.flags.has('predict-only')) inference.push('predict');
  if (args.flags.has('classify')) inference.push('classify');
  if (inferenceOnly && inference.length === 0) throw new Error('bench scale: --inference-only runs nothing without --predict or --classify');
  if (inferenceOnly && inference.includes('predict') && !args.flags.has('keep')) throw new Error('bench scale: predict runs without training need --keep DIR (the folder of an earlier bench, holding its run)');
  const classifySize = numberFlag(args, 'classify-size', 224, 'bench scale');
  const sizes = parseSizes(String(args.flags.get('sizes') ?? '1k,10k,30k')).sort((a, b) => a - b);
  const budget = String(args.flags.get('cache-budget') ?? '512M');
  parseBytes(budget);
  const size = numberFlag(args, 'image-size', 160, 'bench scale');
  const batch = numberFlag(args, 'batch-size', 32, 'bench scale');
  const source = resolve(String(args.flags.get('source') ?? join(ROOT, '../shared/datasets/alpaca/dataset')));
  const outFile = resolve(String(args.flags.get('out') ?? join(ROOT, 'bench/results/scale-lavapipe.md')));
  const modesFlag = args.flags.get('modes');
  const modesFor = (n: number): string[] => (modesFlag ? String(modesFlag).split(',') : n === sizes[0] ? ['default', 'stream'] : ['default']);
  for (const n of sizes) for (const m of modesFor(n)) if (m !== 'default' && m !== 'stream') throw new Error(`bench scale: --modes takes default and/or stream, got '${m}'`);
  if (!existsSync(MAIN)) throw new Error(`bench scale: ${MAIN} not found: build first (npx turbo run build)`);

  const keep = args.flags.get('keep');
  const work = keep ? resolve(String(keep)) : mkdtempSync(join(tmpdir(), 'mnv2-scale-'));
  mkdirSync(work, { recursive: true });
  const pool = join(work, 'pool');
  const rows: Row[] = args.flags.has('merge') ? previousRows(outFile) : [];
  const generated: string[] = [];
  try {
    const sources = await loadSources(source);
    console.log(`bench scale: ${sources.length} source images in ${source}; data in ${work}${keep ? ' (kept)' : ' (removed at the end)'}`);
    let gs = 0;
    for (const n of sizes) {
      gs += await generate(pool, sources, n); // the images of the smaller sizes first, so their runs start early
      generated.splice(0, generated.length, `Generating ${fmtInt(n)} images took ${gs.toFixed(0)} s in this run (less where --keep reused earlier ones)`);
      const dir = join(work, `data-${n}`);
      subset(pool, dir, n, sources);
      for (const mode of inferenceOnly ? [] : modesFor(n)) {
        const b = mode === 'stream' ? '0' : budget;
        const load = loadavg()[0];
        console.log(`  ${fmtInt(n)} images, cache budget ${b} (load average ${load.toFixed(1)}):`);
        const r = trainOnce(dir, work, b, { size, batch });
        const same = rows.findIndex((x) => x.images === n && x.budget === b);
        if (same >= 0) rows.splice(same, 1);
        rows.push({ images: n, mode, budget: b, wall: r.wall, stats: r.stats, error: r.error, load });
        rows.sort((a, c) => a.images - c.images || (a.mode === 'default' ? -1 : 1));
        if (r.stats) console.log(`    peak RSS ${mib(r.stats.maxRssBytes)}, peak device ${mib(r.stats.devicePeakBytes)}, process ${r.wall.toFixed(0)} s`);
        else console.log(`    failed: ${r.error}`);
        mkdirSync(dirname(outFile), { recursive: true });
        writeFileSync(outFile, markdown(rows, { size, batch, budget, generated, source: 'the shared alpaca images' }));
      }
      for (const kind of inference) {
        const load = loadavg()[0];
        console.log(`  ${kind} over ${fmtInt(n)} images (load average ${load.toFixed(1)}):`);
        if (kind === 'predict' && !existsSync(join(work, 'run', 'model.safetensors'))) throw new Error(`bench scale: no trained run in ${join(work, 'run')}: run the training of this bench first (without --inference-only)`);
        const r = inferOnce(kind, dir, work, { batch, size: kind === 'predict' ? size : classifySize });
        const same = rows.findIndex((x) => x.images === n && x.mode === kind && (x.predict?.imageSize ?? size) === (r.stats?.imageSize ?? size));
        if (same >= 0) rows.splice(same, 1);
        rows.push({ images: n, mode: kind, budget: '-', wall: r.wall, predict: r.stats, error: r.error, load });
        rows.sort((a, c) => a.images - c.images || (a.mode === 'default' ? -1 : 1));
        if (r.stats) console.log(`    peak RSS ${mib(r.stats.maxRssBytes)}, peak device ${mib(r.stats.devicePeakBytes)}, ${r.stats.seconds.toFixed(0)} s`);
        else console.log(`    failed: ${r.error}`);
        mkdirSync(dirname(outFile), { recursive: true });
        writeFileSync(outFile, markdown(rows, { size, batch, budget, generated, source: 'the shared alpaca images' }));
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  console.log(`bench scale: wrote ${outFile}`);
  return rows.every((r) => r.stats || r.predict) ? 0 : 1;
}
