// Issue 13 in the browser at real size: the web trainer (`createTrainer`, what the demo's Teach page
// uses) given folders of 2,000+ images as a user's file picker gives them (disk-backed File objects,
// set on an <input type=file multiple> by the browser automation, never read into the page first),
// one frozen-base epoch, in headless Chromium (WebGPU on SwiftShader). For each dataset size a fresh
// browser; records the peak RSS of the whole Chromium process tree (sampled from /proc every 250 ms),
// the engine's peak device bytes, the page's JS heap, epoch seconds and the cache plans, and writes
// bench/results/web-scale-swiftshader.md. Memory must stay flat in the number of images.
//   npx turbo run build && npx tsx bench/web-scale.mts --data DIR [--sizes 240,2000] [--image-size 96]
//     [--batch-size 32] [--cache-budget BYTES] [--out FILE]
// --cache-budget: the trainer's cacheBudgetBytes (default: its own, 512 MiB); 0 streams every batch.
// DIR: class folders of JPEGs (e.g. the data-10000 folder `mnv2 bench scale --keep DIR` leaves).
import { readdirSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ensureDemoBuilt, launchChromium, startServer, ROOT } from '../tests/web/harness.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const data = arg('data');
if (!data || !existsSync(data)) {
  console.error('usage: tsx bench/web-scale.mts --data DIR [--sizes 240,2000] [--image-size 96] [--batch-size 32] [--out FILE]\n(DIR: class folders of images, e.g. from `mnv2 bench scale --keep DIR`)');
  process.exit(2);
}
const sizes = (arg('sizes', '240,2000') ?? '').split(',').map(Number);
const imageSize = Number(arg('image-size', '96'));
const batchSize = Number(arg('batch-size', '32'));
const budgetArg = arg('cache-budget');
const cacheBudgetBytes = budgetArg === undefined ? undefined : Number(budgetArg);
const out = resolve(arg('out', join(ROOT, 'bench/results/web-scale-swiftshader.md'))!);
const classes = readdirSync(data).filter((c) => !c.startsWith('.')).sort();
const filesOf = classes.map((c) => readdirSync(join(data, c)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort());

/** Every process below `root` (inclusive), from /proc's parent links. */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const all = [root];
  for (let i = 0; i < all.length; i++) for (const [p, pp] of parent) if (pp === all[i]) all.push(p);
  return all;
}
function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
/** The browser's main process: the chromium whose command line names this profile folder. */
function browserPid(profileHint: string): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(profileHint) && !cmd.includes('--type=')) return Number(d);
    } catch {
      // gone
    }
  }
  throw new Error(`web-scale: no Chromium process with ${profileHint} in its command line`);
}

interface Row {
  images: number;
  plans: string[];
  epochS: number;
  fitS: number;
  addS: number;
  loss: number;
  peakTreeRss: number;
  peakDevice: number;
  jsHeap: number;
  load: number;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
ensureDemoBuilt();
const server = await startServer();
const rows: Row[] = [];
for (const n of sizes) {
  const load = loadavg()[0];
  const browser = await launchChromium();
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => (globalThis as unknown as { mnv2demo?: { ready: boolean } }).mnv2demo?.ready === true, undefined, { timeout: 120_000 });
  const root = browserPid(browser.profile);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, tree(root).reduce((s, p) => s + rssBytes(p), 0));
  }, 250);
  // n images, classes interleaved; one file input per class, as a user picks a folder per class.
  const per = classes.map((_, k) => filesOf[k].slice(0, Math.floor(n / classes.length) + (k < n % classes.length ? 1 : 0)).map((f) => join(data, classes[k], f)));
  await page.evaluate((k) => {
    type El = { type: string; multiple: boolean; id: string };
    const document = (globalThis as unknown as { document: { createElement(t: 'input'): El; body: { append(e: El): void } } }).document;
    for (let i = 0; i < k; i++) {
      const input = document.createElement('input');
      input.type = 'file';
      input.multiple = true;
      input.id = `bench-files-${i}`;
      document.body.append(input);
    }
  }, classes.length);
  for (let k = 0; k < classes.length; k++) await page.setInputFiles(`#bench-files-${k}`, per[k]);
  console.log(`web-scale: ${n} images (${per.map((p) => p.length).join(' + ')}), ${imageSize}², batch ${batchSize}, load ${load.toFixed(1)}`);
  const r = await page.evaluate(
    async (o) => {
      type Ev = { type: string; message?: string; seconds?: number };
      type T = { addImages(c: number, ims: Blob[]): Promise<{ errors: string[] }>; fit(o: object, onEvent?: (ev: Ev) => void): Promise<{ history: { loss: number; seconds: number }[] }> };
      type C = { createTrainer(o: object): Promise<T>; worker_: { memory(): Promise<{ devicePeakBytes: number }> } };
      const client = (globalThis as unknown as { mnv2demo: { client: C } }).mnv2demo.client;
      const t = await client.createTrainer({ base: './weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', classes: o.classes, imageSize: o.imageSize });
      const t0 = performance.now();
      const errors: string[] = [];
      const document = (globalThis as unknown as { document: { getElementById(id: string): { files: ArrayLike<Blob> | null } } }).document;
      for (let k = 0; k < o.classes.length; k++) {
        const input = document.getElementById(`bench-files-${k}`);
        errors.push(...(await t.addImages(k, Array.from(input.files ?? []))).errors);
      }
      const addS = (performance.now() - t0) / 1000;
      const plans: string[] = [];
      const t1 = performance.now();
      const fit = await t.fit({ epochs: 1, batchSize: o.batchSize, learningRate: 1e-3, validationSplit: 0, ...(o.cacheBudgetBytes === undefined ? {} : { cacheBudgetBytes: o.cacheBudgetBytes }) }, (ev) => {
        if (ev.type === 'cache-plan') plans.push(ev.message!);
      });
      const fitS = (performance.now() - t1) / 1000;
      const mem = await client.worker_.memory();
      const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
      return { errors, plans, addS, fitS, epochS: fit.history[0].seconds, loss: fit.history[0].loss, devicePeak: mem.devicePeakBytes, heap };
    },
    { classes, imageSize, batchSize, cacheBudgetBytes },
  );
  clearInterval(sampler);
  await browser.close();
  if (r.errors.length) throw new Error(`web-scale: ${r.errors.length} images refused: ${r.errors.slice(0, 3).join('; ')}`);
  const row: Row = { images: n, plans: r.plans, epochS: r.epochS, fitS: r.fitS, addS: r.addS, loss: r.loss, peakTreeRss: peak, peakDevice: r.devicePeak, jsHeap: r.heap, load };
  rows.push(row);
  console.log(`  add ${row.addS.toFixed(1)} s, epoch ${row.epochS.toFixed(1)} s, loss ${row.loss.toFixed(4)}, peak Chromium RSS ${mib(peak)}, peak device ${mib(row.peakDevice)}, page heap ${mib(row.jsHeap)}`);
  for (const p of row.plans) console.log(`  plan: ${p}`);
}
await server.close();

const g = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)} %`;
const [a, b] = [rows[0], rows[rows.length - 1]];
const md = [
  '# Web trainer at real size (`bench/web-scale.mts`), headless Chromium, WebGPU on SwiftShader',
  '',
  `Date: ${new Date().toISOString()}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Debian's chromium, headless, \`--use-webgpu-adapter=swiftshader\` (software).`,
  `Per size, a fresh browser: the images go in as a file picker gives them (disk-backed File objects on an \`<input type=file multiple>\`, one per class, set by the automation from paths), then \`createTrainer({ imageSize: ${imageSize} })\`, \`addImages\` per class, \`fit({ epochs: 1, batchSize: ${batchSize}, validationSplit: 0${cacheBudgetBytes === undefined ? '' : `, cacheBudgetBytes: ${cacheBudgetBytes}`} })\` (base frozen, the Keras int8 file's weights dequantized). Data: JPEGs of about 500x375 generated by \`mnv2 bench scale\` from the shared alpaca images (random crops, flips, colour jitter), two classes.`,
  '',
  '"fit s" includes decoding and any cache fill (the frozen base\'s features) before the epoch. "peak Chromium RSS" sums the resident memory of every process of the browser (main, GPU, renderer, workers; SwiftShader keeps device memory in host RAM), sampled every 250 ms; "peak device bytes" is the engine buffer pool\'s maximum; "page heap" is the page\'s used JS heap at the end. "load": 1-minute load average at the start (2 cores; above ~2 other work competed).',
  '',
  '| images | addImages s | fit s | epoch s | img/s | loss | peak Chromium RSS | peak device bytes | page heap | load | plans |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.images.toLocaleString('en-US')} | ${r.addS.toFixed(1)} | ${r.fitS.toFixed(1)} | ${r.epochS.toFixed(1)} | ${(r.images / r.epochS).toFixed(1)} | ${r.loss.toFixed(4)} | ${mib(r.peakTreeRss)} | ${mib(r.peakDevice)} | ${mib(r.jsHeap)} | ${r.load.toFixed(1)} | ${r.plans.join('; ')} |`),
  '',
  rows.length >= 2 ? `Growth from ${a.images.toLocaleString('en-US')} to ${b.images.toLocaleString('en-US')} images: peak Chromium RSS ${g(a.peakTreeRss, b.peakTreeRss)}, peak device bytes ${g(a.peakDevice, b.peakDevice)}.` : '',
  '',
  `Command: \`npx tsx bench/web-scale.mts ${process.argv.slice(2).join(' ')}\``,
  '',
];
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, md.join('\n'));
console.log(`web-scale: wrote ${out}`);
