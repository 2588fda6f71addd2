// `mnv2 bench train`: one training step of MobileNetV2 1.0 with a Dense(1) head (sigmoid binary
// cross-entropy from logits, Adam), batch 8 at 160x160, ours next to TF.js WebGPU (tf.layers model
// built like Keras', same weights, same Dawn adapter) in one process, in three modes: base frozen,
// fine-tuning from Keras layer 100, full network. Per mode: warm-up steps of each, then rounds that
// run one step of each in turn (load changes hit both alike); each step is awaited until its loss is
// on the host; the median is reported. A TF.js failure is reported, not a crash.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { MobileNetV2Net, adam, matmul, trainStep, type Engine, type Optimizer, type Tensor } from '@mnv2/core';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { numberFlag, parseArgs } from '../util/args.js';
import { median, timeInterleaved, type TimingOptions } from './timing.js';
import { ceilingCandidates, matmulCeiling } from './ceiling.js';
import { matmulTileKey } from '@mnv2/kernels';
import { fullTrainingStepFlops } from './layers.js';
import { errText, mdTable, randomInput, textTable } from './side-by-side.js';
import { packageVersion } from './peers/types.js';
import { TfjsTrainPeer, type TrainMode } from './peers/tfjs-train.js';

const SIZE = 160;
const BATCH = 8;
const FINE_TUNE_AT = 100;

const HELP = `mnv2 bench train [--quick] [--out FILE] [--repeats N] [--warmup N] [--no-tfjs]

One training step of MobileNetV2 1.0 + Dense(1) head (binary cross-entropy from logits, Adam 1e-3),
batch ${BATCH} at ${SIZE}x${SIZE}, ours next to TF.js 4 WebGPU (tf.layers model built like Keras', same
weights, same Dawn adapter, same process), in three modes:

  frozen      base frozen, head trains (ours: BN in inference mode, Keras semantics; TF.js: base
              layers trainable=false, trainOnBatch, which still runs BN in training mode)
  fine-tune   Keras layers[${FINE_TUNE_AT}:] of the base train (ours: net.setBaseTrainable(${FINE_TUNE_AT}), BN inference mode as in fit)
  full        every layer trains, BN in training mode (batch statistics) in both

  --quick       frozen mode only, 2 rounds
  --out FILE    also write the results as markdown (date, adapter, versions, load average)
  --repeats N   timed rounds per mode (default 3); each round runs one step of each, in turn
  --warmup N    untimed steps of each first (default 1; the first compiles shaders)
  --no-tfjs     ours only

Expect minutes on a software adapter (TF.js WebGPU needs ~4 s per frozen and ~17 s per full step on lavapipe).`;

interface ModeSpec {
  mode: TrainMode;
  label: string;
  ours: string;
  tfjs: string;
}

const MODES: ModeSpec[] = [
  { mode: 'frozen', label: 'base frozen', ours: 'setBaseTrainable(false), BN inference', tfjs: 'base trainable=false, BN in training mode' },
  { mode: 'fine-tune', label: `fine-tune from layer ${FINE_TUNE_AT}`, ours: `setBaseTrainable(${FINE_TUNE_AT}), BN inference`, tfjs: `layers[${FINE_TUNE_AT}:] trainable, BN in training mode` },
  { mode: 'full', label: 'full network', ours: 'setBaseTrainable(true), BN training mode', tfjs: 'all trainable, BN in training mode' },
];

interface Result {
  spec: ModeSpec;
  ours: { samples: number[]; ms?: number; trainable: number; loss?: number; error?: string };
  tfjs: { samples: number[]; ms?: number; trainable?: number; loss?: number; error?: string };
}

const fmt = (x: number | undefined, d = 0) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '—');


const ratio = (r: Result) => (r.ours.ms !== undefined && r.tfjs.ms !== undefined ? r.tfjs.ms / r.ours.ms : undefined);

function rowCells(r: Result): string[] {
  const q = ratio(r);
  return [
    r.spec.label,
    r.ours.trainable.toLocaleString('en-US'),
    r.ours.ms !== undefined ? fmt(r.ours.ms) : `failed`,
    r.tfjs.ms !== undefined ? fmt(r.tfjs.ms) : r.tfjs.error ? 'failed' : '—',
    q !== undefined ? q.toFixed(2) : '—',
  ];
}
const HEAD = ['mode', 'trainable weights (ours)', 'ours ms/step', 'TF.js ms/step', 'TF.js ÷ ours'];

/** The full step's GFLOP/s against the matmul ceiling of the same run (issue 16: >= 35 %). */
function ceilingShare(results: Result[], ceiling: number): string | null {
  const r = results.find((x) => x.spec.mode === 'full');
  if (!r?.ours.ms || !Number.isFinite(ceiling)) return null;
  const flops = fullTrainingStepFlops({ alpha: 1, size: SIZE, batch: BATCH }, 1);
  const gf = flops / (r.ours.ms * 1e6);
  const pct = (100 * gf) / ceiling;
  return `full network step: ${(flops / 1e9).toFixed(2)} GFLOP in ${r.ours.ms.toFixed(0)} ms = ${gf.toFixed(2)} GFLOP/s, ${pct.toFixed(0)} % of the matmul ceiling measured in this run (${ceiling.toFixed(1)} GFLOP/s; target >= 35 %: ${pct >= 35 ? 'met' : 'NOT met'})`;
}

/** Issue targets: ≥ 3x faster than TF.js for the frozen step, ≥ 2x for the full fine-tune step. */
function targetLines(results: Result[]): string[] {
  const out: string[] = [];
  for (const [mode, t] of [
    ['frozen', 3],
    ['full', 2],
  ] as const) {
    const r = results.find((x) => x.spec.mode === mode);
    const q = r && ratio(r);
    if (q !== undefined) out.push(`${r!.spec.label}: TF.js ÷ ours = ${q.toFixed(2)} (target ≥ ${t}: ${q >= t ? 'met' : 'NOT met'})`);
  }
  return out;
}



export async function benchTrain(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['out', 'repeats', 'warmup'], booleans: ['quick', 'no-tfjs'] }, 'bench train');
  if (args.positionals.length) throw new Error(`bench train: unexpected argument '${args.positionals[0]}' (see 'mnv2 bench train --help')`);
  const quick = args.flags.get('quick') === true;
  const out = args.flags.get('out');
  const repeats = numberFlag(args, 'repeats', quick ? 2 : 3, 'bench train');
  const warmup = numberFlag(args, 'warmup', 1, 'bench train');
  if (!(repeats >= 1 && Number.isInteger(repeats))) throw new Error('bench train: --repeats must be a positive integer');
  if (!(warmup >= 1 && Number.isInteger(warmup))) throw new Error('bench train: --warmup must be a positive integer (the first step compiles)');
  const modes = quick ? MODES.slice(0, 1) : MODES;

  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
  const loadStart = loadavg();
  const { engine: e, adapter } = await createNodeEngine();
  const adapterName = describeAdapter(adapter);
  const oursVersion = `@mnv2/core ${packageVersion('@mnv2/core')}, webgpu (Dawn) ${packageVersion('webgpu')}`;
  console.log(`[mnv2] adapter: ${adapterName}`);

  const net = new MobileNetV2Net(e, { alpha: 1.0, inputSize: SIZE, head: { classes: 1, pooling: 'avg', dropout: 0 }, seed: 1 });
  const weights = new Map<string, Float32Array>();
  for (const p of net.params()) weights.set(p.name, await p.value.read());
  const input = randomInput(BATCH * SIZE * SIZE * 3, 42);
  const labels = Float32Array.from({ length: BATCH }, (_, i) => i % 2);
  const x: Tensor = e.upload(input, [BATCH, SIZE, SIZE, 3]);
  const y: Tensor = e.upload(labels, [BATCH], 'f32');

  let tfjs: TfjsTrainPeer | null = null;
  let tfjsInitError: string | undefined;
  if (args.flags.get('no-tfjs') !== true) {
    tfjs = new TfjsTrainPeer();
    try {
      await tfjs.init();
      tfjs.build(SIZE, weights);
      console.log(`[mnv2] ${tfjs.label}: ${tfjs.version}${tfjs.adapter ? ` — ${tfjs.adapter}` : ''}`);
    } catch (err) {
      tfjsInitError = errText(err);
      console.log(`[mnv2] TF.js WebGPU: FAILED to load: ${tfjsInitError}`);
      tfjs = null;
    }
  }
  console.log(`[mnv2] timing: ${warmup} warm-up step(s) each, then median of ${repeats} rounds; every step awaited until its loss is on the host`);
  // The adapter's matmul ceiling in this run (start and end, best kept): the full step's GFLOP/s is
  // reported as a share of it, as bench kernels reports each kernel.
  const ceilTiming: TimingOptions = { repeats: 5, minMs: 80, maxN: 20 };
  const ceilings: number[] = [];
  const ceilingRun = async (when: string) => {
    for (const n of [512, 1024]) {
      const c = await matmulCeiling(e, n, ceilTiming);
      ceilings.push(c.gflops);
      console.log(`[mnv2] matmul ceiling (${when}) ${n}³: ${c.gflops.toFixed(1)} GFLOP/s (${c.tile}) [${elapsed()}]`);
    }
  };
  await ceilingRun('start');

  let seed = 1;
  const oursStep = async (opt: Optimizer, bnInference: boolean): Promise<number> => {
    e.write(x, input);
    const r = trainStep(e, net, opt, x, y, { loss: 'binary', seed: seed++, bnInference });
    try {
      return (await r.loss.read())[0];
    } finally {
      r.loss.dispose();
      r.correct.dispose();
    }
  };

  /**
   * The full step (every layer trains, BN in training mode) timed interleaved with the 1024³ ceiling
   * candidates in the same repeats (>= 300 ms each): a drifting host hits both alike.
   */
  const fullStepVsCeiling = async (): Promise<string> => {
    net.setBaseTrainable(true);
    const opt = adam({ learningRate: 0.001 });
    const n = 1024;
    const a = e.upload(randomInput(n * n, 7), [n, n]);
    const b = e.upload(randomInput(n * n, 8), [n, n]);
    try {
      const tiles = ceilingCandidates(e, n);
      const runs = [
        () => {
          const r = trainStep(e, net, opt, x, y, { loss: 'binary', seed: seed++, bnInference: false });
          r.loss.dispose();
          r.correct.dispose();
        },
        ...tiles.map((tile) => () => e.tidy(() => void matmul(e, a, b, { variant: { tile, splitK: 1 } }))),
      ];
      const [t, ...ts] = await timeInterleaved(e, runs, { repeats: 5, minMs: 300, maxN: 20 });
      const gf = ts.map((m) => (2 * n * n * n) / (m.ms * 1e6));
      const best = gf.indexOf(Math.max(...gf));
      const flops = fullTrainingStepFlops({ alpha: 1, size: SIZE, batch: BATCH }, 1);
      const pct = (100 * flops) / (t.ms * 1e6) / gf[best];
      return `full network step timed interleaved with the 1024³ ceiling candidates: ${t.ms.toFixed(0)} ms = ${(flops / (t.ms * 1e6)).toFixed(2)} GFLOP/s vs ${gf[best].toFixed(1)} GFLOP/s (${matmulTileKey(tiles[best])}) = ${pct.toFixed(0)} % (target >= 35 %: ${pct >= 35 ? 'met' : 'NOT met'})`;
    } finally {
      a.dispose();
      b.dispose();
      opt.dispose();
    }
  };

  const results: Result[] = [];
  const write = (done: boolean, share: string | null = null) => {
    if (typeof out !== 'string') return;
    writeFileSync(
      out,
      markdown({
        done,
        command: `mnv2 bench train ${argv.join(' ')}`.trim(),
        adapter: adapterName,
        oursVersion,
        tfjs,
        tfjsInitError,
        results,
        repeats,
        warmup,
        wallS: (performance.now() - started) / 1000,
        load: [loadStart, loadavg()],
        share,
        ceilings,
      }),
    );
  };

  for (const spec of modes) {
    console.log(`\n== ${spec.label}: ours ${spec.ours}; TF.js ${spec.tfjs} [${elapsed()}]`);
    net.setBaseTrainable(spec.mode === 'frozen' ? false : spec.mode === 'full' ? true : FINE_TUNE_AT);
    for (const p of net.head?.params() ?? []) p.trainable = true;
    const bnInference = spec.mode !== 'full';
    const opt = adam({ learningRate: 0.001 });
    const trainable = net.trainableParams().reduce((s, p) => s + p.value.size, 0);
    const res: Result = { spec, ours: { samples: [], trainable }, tfjs: { samples: [] } };
    results.push(res);
    if (tfjsInitError) res.tfjs.error = `failed to load: ${tfjsInitError}`;

    const t0 = performance.now();
    try {
      for (let i = 0; i < warmup; i++) res.ours.loss = await oursStep(opt, bnInference);
      console.log(`  ours: ${trainable.toLocaleString('en-US')} trainable weights, ${warmup} warm-up step(s) ${((performance.now() - t0) / 1000).toFixed(1)} s, loss ${fmt(res.ours.loss, 4)}`);
    } catch (err) {
      res.ours.error = errText(err);
      console.log(`  ours: FAILED: ${res.ours.error}`);
    }
    if (tfjs) {
      const t1 = performance.now();
      try {
        res.tfjs.trainable = tfjs.setMode(spec.mode, FINE_TUNE_AT).trainableWeights;
        for (let i = 0; i < warmup; i++) res.tfjs.loss = await tfjs.step(input, labels, SIZE);
        console.log(`  TF.js: ${res.tfjs.trainable.toLocaleString('en-US')} trainable weights, ${warmup} warm-up step(s) ${((performance.now() - t1) / 1000).toFixed(1)} s, loss ${fmt(res.tfjs.loss, 4)}`);
      } catch (err) {
        res.tfjs.error = errText(err);
        console.log(`  TF.js: FAILED: ${res.tfjs.error}`);
      }
    }
    for (let r = 0; r < repeats; r++) {
      if (!res.ours.error) {
        try {
          const t = performance.now();
          res.ours.loss = await oursStep(opt, bnInference);
          res.ours.samples.push(performance.now() - t);
        } catch (err) {
          res.ours.error = `step ${r + 1}: ${errText(err)}`;
          console.log(`  ours: FAILED: ${res.ours.error}`);
        }
      }
      if (tfjs && !res.tfjs.error) {
        try {
          const t = performance.now();
          res.tfjs.loss = await tfjs.step(input, labels, SIZE);
          res.tfjs.samples.push(performance.now() - t);
        } catch (err) {
          res.tfjs.error = `step ${r + 1}: ${errText(err)}`;
          console.log(`  TF.js: FAILED: ${res.tfjs.error}`);
        }
      }
      console.log(`  round ${r + 1}: ours ${fmt(res.ours.samples[r])} ms, TF.js ${fmt(res.tfjs.samples[r])} ms [${elapsed()}]`);
    }
    if (!res.ours.error && res.ours.samples.length) res.ours.ms = median(res.ours.samples);
    if (!res.tfjs.error && res.tfjs.samples.length) res.tfjs.ms = median(res.tfjs.samples);
    const q = ratio(res);
    console.log(`  median: ours ${fmt(res.ours.ms)} ms/step, TF.js ${fmt(res.tfjs.ms)} ms/step${q !== undefined ? `, TF.js ÷ ours = ${q.toFixed(2)}` : ''}`);
    write(false);
  }

  await ceilingRun('end');
  const interleaved = results.some((r) => r.spec.mode === 'full' && r.ours.ms) ? await fullStepVsCeiling() : null;
  if (interleaved) console.log(`[mnv2] ${interleaved} [${elapsed()}]`);
  const share = [ceilingShare(results, Math.max(...ceilings)), interleaved].filter((l) => l).join('; ') || null;
  console.log(`\n== summary (${elapsed()}; load average ${loadStart.map((v) => v.toFixed(2)).join(' ')} → ${loadavg().map((v) => v.toFixed(2)).join(' ')})`);
  console.log(textTable(HEAD, results.map(rowCells), 1));
  for (const r of results) {
    if (r.ours.error) console.log(`failed: ours, ${r.spec.label}: ${r.ours.error}`);
    if (r.tfjs.error) console.log(`failed: TF.js, ${r.spec.label}: ${r.tfjs.error}`);
  }
  console.log('[mnv2] note: TF.js runs BatchNorm in training mode even with a frozen base (batch statistics, moving averages updated); ours uses inference-mode BN (Keras semantics) for frozen and fine-tune.');
  for (const l of targetLines(results)) console.log(`[mnv2] ${l}`);
  if (share) console.log(`[mnv2] ${share}`);
  write(true, share);
  if (typeof out === 'string') console.log(`[mnv2] wrote ${out}`);
  x.dispose();
  y.dispose();
  try {
    await tfjs?.dispose();
  } catch {
    /* best effort */
  }
  net.dispose();
  e.destroy();
  return 0;
}

interface MarkdownInput {
  done: boolean;
  command: string;
  adapter: string;
  oursVersion: string;
  tfjs: TfjsTrainPeer | null;
  tfjsInitError?: string;
  results: Result[];
  repeats: number;
  warmup: number;
  wallS: number;
  load: [number[], number[]];
  /** The full step against the matmul ceiling (null until the end). */
  share: string | null;
  ceilings: number[];
}

function markdown(m: MarkdownInput): string {
  const cpu = cpus();
  const L: string[] = [];
  L.push('# MobileNetV2 training step: ours vs TF.js WebGPU (`mnv2 bench train`)', '');
  if (!m.done) L.push('**Incomplete: the run did not finish (results so far).**', '');
  L.push(`- Date: ${new Date().toISOString()}`);
  L.push(`- Command: \`${m.command}\` (wall ${m.wallS.toFixed(0)} s)`);
  L.push(`- Adapter: ${m.adapter}`);
  L.push(`- Host: ${cpu.length} x ${cpu[0]?.model ?? '?'}, Node ${process.version}, load average ${m.load[0].map((v) => v.toFixed(2)).join(' ')} at start, ${m.load[1].map((v) => v.toFixed(2)).join(' ')} at end`);
  L.push(`- mnv2 (ours): ${m.oursVersion}`);
  L.push(`- TF.js WebGPU: ${m.tfjs ? `${m.tfjs.version}${m.tfjs.adapter ? `; ${m.tfjs.adapter}` : ''}` : m.tfjsInitError ? `FAILED to load: \`${m.tfjsInitError}\`` : 'not run'}`);
  L.push('');
  L.push(
    `Workload: one training step, batch ${BATCH} at ${SIZE}x${SIZE}, MobileNetV2 alpha 1.0 base + GlobalAveragePooling2D + Dense(1) ` +
      '(logits), sigmoid binary cross-entropy from logits, Adam (lr 1e-3, Keras defaults). Same random Glorot weights in both ' +
      "(ours read back and copied into a tf.layers model built like Keras' mobilenet_v2.py), same input and labels, same Dawn " +
      'adapter, one process. Ours: `trainStep` (forward, fused loss+gradient, backward, Adam; one submit). TF.js: ' +
      '`model.trainOnBatch(x, y)` with the input uploaded each step.',
  );
  L.push('');
  L.push('Modes:', '');
  for (const s of MODES) L.push(`- **${s.label}**: ours ${s.ours}; TF.js ${s.tfjs}.`);
  L.push('');
  L.push(
    '**Note:** TF.js runs BatchNorm in training mode even when the base is frozen (`trainable = false` does not change ' +
      "`training`): batch statistics in the forward pass and moving averages updated, which is not Keras' `training=False` " +
      'semantics. Ours runs inference-mode BN (moving statistics) in the frozen and fine-tune modes, as Keras transfer learning ' +
      'does, and training-mode BN in the full mode. The frozen and fine-tune rows therefore compare what each library does for ' +
      'that recipe, not identical arithmetic.',
  );
  L.push('');
  L.push(
    `Timing: ${m.warmup} warm-up step(s) of each (shader compilation), then ${m.repeats} rounds, each running one step of ours ` +
      'and one of TF.js in turn; a step is awaited until its loss is on the host; median ms/step. "TF.js ÷ ours" > 1 means ours is faster.',
  );
  L.push('');
  L.push(mdTable(HEAD, m.results.map(rowCells), 1));
  L.push('');
  if (m.ceilings.length) L.push(`Matmul ceiling of this run (512³ and 1024³, at the start${m.done ? ' and the end' : ''}): ${m.ceilings.map((c) => c.toFixed(1)).join(', ')} GFLOP/s.`, '');
  if (m.share) L.push(`Issue 16: ${m.share}.`, '');
  const t = targetLines(m.results);
  if (t.length) {
    L.push('Issue targets (ours ≥ 3x faster than TF.js for the frozen step, ≥ 2x for the full fine-tune step):', '');
    for (const l of t) L.push(`- ${l}`);
    L.push('');
  }
  L.push(
    'For comparison, shared/docs/PEERS.md (TF.js 4.22 WebGPU on lavapipe, an older 2-core AMD EPYC host, own process): ' +
      '3,754 ms per frozen step and 17,460 ms per full step at 160x160 batch 8. Lavapipe timings vary 15-30 % between ' +
      'processes: compare the ratios measured side by side in one run.',
    '',
  );
  const failed = m.results.flatMap((r) => [
    ...(r.ours.error ? [`- ours, ${r.spec.label}: \`${r.ours.error}\``] : []),
    ...(r.tfjs.error ? [`- TF.js, ${r.spec.label}: \`${r.tfjs.error}\``] : []),
  ]);
  if (failed.length) L.push('Failures:', '', ...failed, '');
  L.push('Per-step times (ms, in round order) and last loss:', '');
  for (const r of m.results) {
    L.push(`- ${r.spec.label}, ours: ${r.ours.samples.map((s) => s.toFixed(0)).join(', ') || '—'} (loss ${fmt(r.ours.loss, 4)})`);
    if (r.tfjs.samples.length || r.tfjs.error) L.push(`- ${r.spec.label}, TF.js: ${r.tfjs.samples.map((s) => s.toFixed(0)).join(', ') || '—'} (loss ${fmt(r.tfjs.loss, 4)}; trainable weights ${r.tfjs.trainable?.toLocaleString('en-US') ?? '—'})`);
  }
  L.push('');
  return L.join('\n');
}
