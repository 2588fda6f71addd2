// `mnv2 bench kernels`: every kernel on MobileNetV2's real layer shapes, next to the adapter's
// matmul ceiling measured in the same run. Table-driven: bench/entries.ts lists the ops, bench/
// layers.ts the layers; each (op, distinct shape) is timed once and counted for every layer with it.
import { writeFileSync } from 'node:fs';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { parseArgs, numberFlag } from '../util/args.js';
import { ENTRIES, SetupContext } from '../bench/entries.js';
import { type BenchConfig, type Layer, configLabel, mobilenetV2Layers } from '../bench/layers.js';
import { loadavg } from 'node:os';
import { DEFAULT_DEPTHWISE_VARIANT } from '@mnv2/core';
import { type TimingOptions, median, timeInterleaved } from '../bench/timing.js';
import { type CeilingResult, matmulCeiling } from '../bench/ceiling.js';
import { type CopyCeilingResult, copyCeiling } from '../bench/copy-ceiling.js';
import { networkForward, networkShareLine, networkVsCeiling } from '../bench/network.js';
import {
  type Row,
  INFERENCE_GROUPS,
  ROW_HEAD,
  TOTAL_HEAD,
  markdown,
  networkLine,
  rowCells,
  shapeOf,
  variantLines,
  textTable,
  totalCells,
  totals,
} from '../bench/report.js';

const HELP = `mnv2 bench kernels [--quick] [--configs LIST] [--out FILE] [--filter REGEX] [--repeats N] [--variants] [--no-network]

Times every kernel on MobileNetV2's layer shapes (alpha 1.0; 224 and 160; batch 1 and 8): median ms,
GFLOP/s and GB/s per layer shape, totals per layer type, and two ceilings measured in the same run:
the adapter's best plain matmul GFLOP/s (512³ and 1024³) and its copy bandwidth (GB/s of a copy
kernel, bytes read + written). "% ceil" is the share of the matmul ceiling for compute-bound kernels
and of the copy ceiling (GB/s of compulsory traffic) for the others. Per configuration it also times
the whole network's inference forward (before and after its kernels) and compares it with the sum of
its kernels, and times it interleaved with the 1024³ ceiling candidates for its share of the ceiling.

  --quick          batch 1 at 224 only, fewer repeats (~1-2 min on a software adapter)
  --configs LIST   only these configurations, SIZExBATCH, comma-separated (e.g. 160x8,224x1)
  --out FILE       also write the results as markdown (date, adapter, load, tables)
  --filter REGEX   only kernels/layers matching, e.g. 'pointwise' or 'block_1_' or 'Backward'
  --repeats N      timed repeats per measurement (default 7, quick 5); the median is reported
  --variants       also time the non-default kernel variants (e.g. the old depthwise kernels,
                   'depthwise fwd [run]'; the old BatchNorm training backward, 'batchnorm train bwd
                   [three-pass]'), interleaved with the default on every shape, and print old/new
                   ratios per layer type
  --no-network     skip the whole-network forward (it is skipped anyway with --filter)

Timing: the op is recorded n times (n chosen so one repeat lasts >= 50 ms, 20 ms with --quick),
then engine.sync() (one submit, sleeping wait), wall clock / n; the first run (pipeline
compilation) is not counted. On lavapipe the same kernel varies by up to 1.5x between runs.`;

const FULL: BenchConfig[] = [
  { alpha: 1.0, size: 224, batch: 1 },
  { alpha: 1.0, size: 224, batch: 8 },
  { alpha: 1.0, size: 160, batch: 1 },
  { alpha: 1.0, size: 160, batch: 8 },
];
const QUICK: BenchConfig[] = [{ alpha: 1.0, size: 224, batch: 1 }];

/** --configs '160x8,224x1' → those configurations (alpha 1.0); the default list without it. */
function configList(flag: string | boolean | undefined, dflt: BenchConfig[]): BenchConfig[] {
  if (typeof flag !== 'string') return dflt;
  return flag.split(',').map((c) => {
    const m = /^(\d+)x(\d+)$/.exec(c.trim());
    if (!m || +m[1] < 32 || +m[2] < 1) throw new Error(`bench kernels: --configs takes SIZExBATCH entries like 160x8, got '${c}'`);
    return { alpha: 1.0, size: +m[1], batch: +m[2] };
  });
}

/** Key of everything that determines an entry's work on a layer (name is not part of it). */
const shapeKey = (l: Layer) => JSON.stringify([l.x, l.y, l.k, l.stride, l.relu6, !!l.residual, l.params?.length ?? 0]);

const BENCH_HELP = `mnv2 bench <kernels|infer|train|scale> [options]

  kernels   every kernel on MobileNetV2's layer shapes, next to the adapter's matmul ceiling
  infer     whole-network inference, ours vs TF.js WebGPU, ONNX Runtime WebGPU and CPU
  train     one training step (frozen base, fine-tune from layer 100, full), ours vs TF.js WebGPU
  scale     one epoch on generated JPEG datasets of 1k/10k/30k images: memory, images/s, cache path

'mnv2 bench kernels --help', 'mnv2 bench infer --help' and 'mnv2 bench train --help' list the options.`;

export async function bench(argv: string[]): Promise<number> {
  if (argv[0] === 'infer') return (await import('../bench/infer.js')).benchInfer(argv.slice(1));
  if (argv[0] === 'train') return (await import('../bench/train.js')).benchTrain(argv.slice(1));
  if (argv[0] === 'scale') return (await import('../bench/scale.js')).benchScale(argv.slice(1));
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(argv[0] === 'kernels' ? HELP : BENCH_HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['out', 'filter', 'repeats', 'configs'], booleans: ['quick', 'variants', 'no-network'] }, 'bench');
  if (args.positionals[0] !== 'kernels' || args.positionals.length > 1) {
    console.error(`mnv2 bench: expected 'mnv2 bench kernels [options]' or 'mnv2 bench infer [options]', got '${args.positionals.join(' ')}'. See 'mnv2 bench --help'.`);
    return 2;
  }
  const quick = args.flags.get('quick') === true;
  const withVariants = args.flags.get('variants') === true;
  const out = args.flags.get('out');
  const filterSrc = args.flags.get('filter');
  let filter: RegExp | null = null;
  if (typeof filterSrc === 'string') {
    try {
      filter = new RegExp(filterSrc, 'i');
    } catch (err) {
      throw new Error(`bench: --filter is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  const repeats = numberFlag(args, 'repeats', quick ? 5 : 7, 'bench');
  if (!(repeats >= 1)) throw new Error('bench: --repeats must be >= 1');
  const timing: TimingOptions = { repeats, minMs: quick ? 20 : 50 };
  const ceilTiming: TimingOptions = { repeats, minMs: quick ? 30 : 80, maxN: 20 };
  const configs = configList(args.flags.get('configs'), quick ? QUICK : FULL);

  const withNetwork = args.flags.get('no-network') !== true && !filter;
  const started = performance.now();
  const loadStart = loadavg();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
  const { engine: e, adapter } = await createNodeEngine();
  const adapterName = describeAdapter(adapter);
  console.log(`[mnv2] adapter: ${adapterName}`);
  console.log(`[mnv2] timing: median of ${repeats} repeats of >= ${timing.minMs} ms each after a warm-up`);
  const variantsText =
    `depthwise '${DEFAULT_DEPTHWISE_VARIANT}' (default${withVariants ? "; also 'run', the old kernels, and the other lavapipe forms" : ''}), ` +
    `BatchNorm training backward two-pass (default${withVariants ? "; also 'three-pass', the old kernels, and 'finalize', the two-pass form never folding the sums into the dx pass" : ''})`;
  console.log(`[mnv2] kernel variants: ${variantsText}`);

  const ceilingRun = async (when: string): Promise<CeilingResult[]> => {
    const res: CeilingResult[] = [];
    for (const n of [512, 1024]) {
      const c = await matmulCeiling(e, n, ceilTiming);
      res.push(c);
      const all = Object.entries(c.all).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
      console.log(`[mnv2] matmul ceiling (${when}) ${n}³: ${c.gflops.toFixed(1)} GFLOP/s (${c.tile}; ${all}) [${elapsed()}]`);
    }
    return res;
  };
  const copyRun = async (when: string): Promise<CopyCeilingResult> => {
    const c = await copyCeiling(e, ceilTiming);
    const all = Object.entries(c.all).map(([n, v]) => `${Number(n) / 2 ** 20} Mi floats ${v.toFixed(1)}`).join(', ');
    console.log(`[mnv2] copy ceiling (${when}): ${c.gbs.toFixed(1)} GB/s read+written (${all}) [${elapsed()}]`);
    return c;
  };
  const ceilingStart = await ceilingRun('start');
  let ceiling = Math.max(...ceilingStart.map((c) => c.gflops));
  const copyStart = await copyRun('start');
  let copyGbs = copyStart.gbs;
  const network = new Map<BenchConfig, number>();
  const networkShare = new Map<BenchConfig, string>();
  const entries = ENTRIES.filter((en) => !en.variantOf);
  const variantsOf = (en: (typeof ENTRIES)[number]) => (withVariants ? ENTRIES.filter((v) => v.variantOf === en.name) : []);

  const rows: Row[] = [];
  const measured = new Map<string, { ms: number; cpuMs?: number }>();
  for (const cfg of configs) {
    console.log(`\n== MobileNetV2 alpha ${cfg.alpha}, ${configLabel(cfg)} [${elapsed()}]`);
    const layers = mobilenetV2Layers(cfg);
    const cfgRows: Row[] = [];
    const networkBefore = withNetwork ? await networkForward(e, cfg, timing) : null;
    for (const entry of entries) {
      // distinct shapes of the layers this entry runs on, in network order
      const groups = new Map<string, Layer[]>();
      for (const l of layers) {
        if (!entry.kinds.includes(l.kind)) continue;
        if (filter && !filter.test(`${entry.name} ${entry.group} ${l.name}`)) continue;
        const k = shapeKey(l);
        groups.set(k, [...(groups.get(k) ?? []), l]);
      }
      const timed = [entry, ...variantsOf(entry)];
      for (const [k, ls] of groups) {
        const l = ls[0];
        const cacheKeys = timed.map((en) => `${en.name}|${k}`);
        const reused = cacheKeys.every((ck) => measured.has(ck));
        if (!reused) {
          // the entry and its variants, interleaved (one setup context: all freed after)
          const ctx = new SetupContext(e);
          try {
            const runs = timed.map((en) => en.setup(ctx, l));
            const ts = await timeInterleaved(e, runs, timing);
            ts.forEach((t, i) => measured.set(cacheKeys[i], { ms: t.ms, cpuMs: t.cpuMs }));
          } finally {
            ctx.dispose();
          }
        }
        timed.forEach((en, i) => {
          const row: Row = {
            config: cfg,
            entry: en.name,
            group: en.group,
            matmulLike: !!en.matmulLike,
            layers: ls.map((x) => x.name),
            shape: shapeOf(l),
            ms: measured.get(cacheKeys[i])!.ms,
            cpuMs: measured.get(cacheKeys[i])!.cpuMs,
            flops: en.flops(l),
            bytes: en.bytes(l),
            reused,
          };
          cfgRows.push(row);
          console.log(`  ${rowCells(row, ceiling, copyGbs).filter((c) => c !== '').join('  ')}`);
        });
      }
    }
    rows.push(...cfgRows);
    if (withNetwork) {
      // Timed before and after the configuration's kernels, the median of both sets of samples: the
      // kernels' times span the whole section, and a shared host's speed drifts within it.
      const after = await networkForward(e, cfg, timing);
      const all = [...networkBefore!.samples, ...after.samples];
      const ms = median(all);
      network.set(cfg, ms);
      console.log(`  whole-network inference forward: ${ms.toFixed(2)} ms (before its kernels ${networkBefore!.ms.toFixed(2)}, after ${after.ms.toFixed(2)}) [${elapsed()}]`);
      const share = networkShareLine(cfg, await networkVsCeiling(e, cfg, timing));
      networkShare.set(cfg, share);
      console.log(`  ${share} [${elapsed()}]`);
    }
  }
  const ceilingEnd = filter ? [] : await ceilingRun('end'); // a filtered run is a quick look
  ceiling = Math.max(ceiling, ...ceilingEnd.map((c) => c.gflops));
  const copyEnd = filter ? null : await copyRun('end');
  copyGbs = Math.max(copyGbs, copyEnd?.gbs ?? 0);
  const loadEnd = loadavg();
  const wallS = (performance.now() - started) / 1000;

  console.log(`\n[mnv2] matmul ceiling: ${ceiling.toFixed(1)} GFLOP/s, copy ceiling: ${copyGbs.toFixed(1)} GB/s (best of start and end)`);
  console.log(`[mnv2] load average (1 min) at start ${loadStart[0].toFixed(2)}, at end ${loadEnd[0].toFixed(2)}`);
  for (const cfg of configs) {
    const cr = rows.filter((r) => r.config === cfg);
    if (cr.length === 0) continue;
    console.log(`\n== totals, alpha ${cfg.alpha}, ${configLabel(cfg)}`);
    const tot = totals(cr);
    console.log(textTable(TOTAL_HEAD, tot.map((t) => totalCells(t, ceiling, copyGbs))));
    const inf = tot.filter((t) => INFERENCE_GROUPS.includes(t.group));
    if (inf.length) console.log(`inference forward estimate (kernel time only): ${inf.reduce((s, t) => s + t.ms, 0).toFixed(1)} ms`);
    const line = networkLine(tot, network.get(cfg));
    if (line) console.log(line);
    const share = networkShare.get(cfg);
    if (share) console.log(share);
    for (const v of variantLines(tot)) console.log(v);
  }
  const pw = totals(rows.filter((r) => r.config === configs[0])).find((t) => t.group === 'pointwise fwd');
  if (pw) {
    const share = pw.flops / (pw.ms * 1e6) / ceiling;
    console.log(
      `\n[mnv2] pointwise convs (${configLabel(configs[0])}): ${(pw.flops / (pw.ms * 1e6)).toFixed(1)} GFLOP/s = ${(100 * share).toFixed(0)}% of the matmul ceiling (target >= 50%: ${share >= 0.5 ? 'met' : 'NOT met'})`,
    );
  }
  console.log(`[mnv2] ${rows.length} rows in ${wallS.toFixed(0)} s`);

  if (typeof out === 'string') {
    const md = markdown({
      date: new Date().toISOString(),
      adapter: adapterName,
      command: `mnv2 bench ${argv.join(' ')}`.trim(),
      wallS,
      ceilingStart,
      ceilingEnd,
      ceiling,
      copyStart,
      copyEnd,
      copyGbs,
      network,
      networkShare,
      load: [loadStart, loadEnd],
      variants: variantsText,
      configs,
      rows,
      timing: `median of ${repeats} repeats, each >= ${timing.minMs} ms of back-to-back runs in one submit, after a warm-up run`,
    });
    writeFileSync(out, md);
    console.log(`[mnv2] wrote ${out}`);
  }
  e.destroy();
  return 0;
}
