// `mnv2 bench infer`: MobileNetV2 1.0 inference, ours next to the peers a user would pick instead
// (TF.js WebGPU, ONNX Runtime WebGPU, ONNX Runtime CPU), in one process, same network, same weights
// (ours, read back and copied into each peer), same input. Runs are interleaved round-robin (one run of
// each implementation per round) so that load changes on the machine hit everyone alike; each run is
// awaited until the logits are on the host. Every peer's logits are also checked against ours.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import type { Precision } from '@mnv2/core';
import { numberFlag, parseArgs } from '../util/args.js';
import { mobilenetV2Layers, layerFlops } from './layers.js';
import { median } from './timing.js';
import { errText, mdTable, randomInput, textTable } from './side-by-side.js';
import { OursPeer } from './peers/ours.js';
import { OrtPeer } from './peers/ort.js';
import { TfjsWebGpuPeer } from './peers/tfjs.js';
import { packageVersion, type InferConfig, type Peer, type PeerRunner, type SharedModel } from './peers/types.js';

const PEERS = ['tfjs', 'ort-webgpu', 'ort-cpu'] as const;

const HELP = `mnv2 bench infer [--quick] [--out FILE] [--peers tfjs,ort-webgpu,ort-cpu] [--repeats N] [--warmup N] [--precision f32|f16|both]

MobileNetV2 1.0 inference (1000 classes, random weights) at 224x224 batch 1, 224x224 batch 8 and
160x160 batch 8, ours next to TF.js 4 WebGPU (tf.layers model built like Keras' mobilenet_v2.py, on
the same Dawn/adapter), ONNX Runtime's WebGPU provider and ONNX Runtime CPU (our network written as
ONNX by core's export/onnx-writer.ts), all in this process with the same weights and input. Prints ms per batch
and per image, images/s, GFLOP/s and each peer's time as a multiple of ours; checks each peer's
logits against ours.

  --quick          224x224 batch 1 only
  --out FILE       also write the results as markdown (date, adapter, versions)
  --peers LIST     comma-separated subset of: ${PEERS.join(', ')} (default: all; 'none' = ours only)
  --repeats N      timed rounds (default 7); each round runs every implementation once, round-robin
  --warmup N       untimed runs of each implementation first (default 2; the first compiles shaders)
  --precision P    our activations' storage: f32 (default), f16 (needs 'shader-f16'), or both: ours
                   at f16 as one more implementation beside ours at f32 (same weights, same input,
                   round-robin in this process: 'time ÷ ours' is the f16/f32 ratio)

A peer that fails to load or run is reported as failed with its error. Expect minutes on a software
adapter (TF.js WebGPU needs ~4 s per 224x224 batch of 8 on lavapipe).`;

const FULL: InferConfig[] = [
  { alpha: 1.0, size: 224, batch: 1, classes: 1000 },
  { alpha: 1.0, size: 224, batch: 8, classes: 1000 },
  { alpha: 1.0, size: 160, batch: 8, classes: 1000 },
];

const cfgLabel = (c: InferConfig) => `${c.size}x${c.size} b${c.batch}`;

/** FLOPs of one image (multiply-add = 2): convolutions, depthwise convolutions, the dense layer. */
export function inferenceFlopsPerImage(alpha: number, size: number, classes = 1000): number {
  return mobilenetV2Layers({ alpha, size, batch: 1 }, classes).reduce((f, l) => f + layerFlops(l), 0);
}



interface Result {
  cfg: InferConfig;
  peer: Peer;
  samples: number[];
  ms?: number; // median per batch
  /** max |peer - ours| / max |ours| over the logits. */
  diff?: number;
  error?: string;
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');

function cells(r: Result, ours: Result | undefined): string[] {
  const { cfg } = r;
  if (r.ms === undefined) return [cfgLabel(cfg), r.peer.label, 'failed', '', '', '', '', ''];
  const perImg = r.ms / cfg.batch;
  const gflops = (inferenceFlopsPerImage(cfg.alpha, cfg.size, cfg.classes) * cfg.batch) / (r.ms * 1e6);
  const ratio = r.peer.id === 'ours' ? '1.00' : ours?.ms !== undefined ? `${(r.ms / ours.ms).toFixed(2)}` : '—';
  const diff = r.peer.id === 'ours' ? '(reference)' : r.diff === undefined ? '—' : r.diff.toExponential(1);
  return [cfgLabel(cfg), r.peer.label, fmt(r.ms), fmt(perImg), fmt(1000 / perImg, 2), fmt(gflops, 2), ratio, diff];
}

const HEAD = ['config', 'implementation', 'ms/batch', 'ms/image', 'images/s', 'GFLOP/s', 'time ÷ ours', 'max |Δ| / max |ours|'];



/** "ours ≥ 2x faster than TF.js WebGPU and faster than ORT WebGPU at 224 b1 and 160 b8". */
function targetLines(results: Result[]): string[] {
  const lines: string[] = [];
  for (const [size, batch] of [
    [224, 1],
    [160, 8],
  ]) {
    const at = (id: string) => results.find((r) => r.cfg.size === size && r.cfg.batch === batch && r.peer.id === id);
    const ours = at('ours');
    if (ours?.ms === undefined) continue;
    const tf = at('tfjs');
    const ow = at('ort-webgpu');
    const parts: string[] = [];
    if (tf?.ms !== undefined) parts.push(`TF.js WebGPU / ours = ${(tf.ms / ours.ms).toFixed(2)} (target ≥ 2: ${tf.ms >= 2 * ours.ms ? 'met' : 'NOT met'})`);
    if (ow?.ms !== undefined) parts.push(`ORT WebGPU / ours = ${(ow.ms / ours.ms).toFixed(2)} (target > 1: ${ow.ms > ours.ms ? 'met' : 'NOT met'})`);
    if (parts.length) lines.push(`${size}x${size} b${batch}: ${parts.join('; ')}`);
  }
  return lines;
}

export async function benchInfer(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const args = parseArgs(argv, { values: ['out', 'peers', 'repeats', 'warmup', 'precision'], booleans: ['quick'] }, 'bench infer');
  if (args.positionals.length) throw new Error(`bench infer: unexpected argument '${args.positionals[0]}' (see 'mnv2 bench infer --help')`);
  const quick = args.flags.get('quick') === true;
  const out = args.flags.get('out');
  const repeats = numberFlag(args, 'repeats', 7, 'bench infer');
  const warmup = numberFlag(args, 'warmup', 2, 'bench infer');
  if (!(repeats >= 1 && Number.isInteger(repeats))) throw new Error('bench infer: --repeats must be a positive integer');
  if (!(warmup >= 1 && Number.isInteger(warmup))) throw new Error('bench infer: --warmup must be a positive integer (the first run compiles)');
  const peersArg = args.flags.get('peers');
  let peerIds: string[] = [...PEERS];
  if (typeof peersArg === 'string') {
    peerIds = peersArg === 'none' ? [] : peersArg.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = peerIds.filter((p) => !(PEERS as readonly string[]).includes(p));
    if (bad.length) throw new Error(`bench infer: unknown peer '${bad[0]}' (choose from ${PEERS.join(', ')})`);
  }
  const configs = quick ? FULL.slice(0, 1) : FULL;
  const precArg = args.flags.get('precision') ?? 'f32';
  if (precArg !== 'f32' && precArg !== 'f16' && precArg !== 'both') throw new Error(`bench infer: --precision must be f32, f16 or both, got '${String(precArg)}'`);
  const enginePrecision: Precision = precArg === 'f16' ? 'f16' : 'f32';

  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
  const loadStart = loadavg();
  const { engine: e, adapter } = await createNodeEngine({ precision: enginePrecision });
  if (precArg === 'both') e.requireF16(); // the f16 peer needs shader-f16: say so before any timing
  const adapterName = describeAdapter(adapter);
  console.log(`[mnv2] adapter: ${adapterName}`);
  const ours = new OursPeer(e, adapterName, `@mnv2/core ${packageVersion('@mnv2/core')}, webgpu (Dawn) ${packageVersion('webgpu')}`);
  const peers: Peer[] = [ours];
  if (precArg === 'both') peers.push(new OursPeer(e, adapterName, ours.version, 'f16', true));
  const initErrors = new Map<Peer, string>();
  for (const id of peerIds) {
    const p: Peer = id === 'tfjs' ? new TfjsWebGpuPeer() : new OrtPeer(id === 'ort-webgpu' ? 'webgpu' : 'cpu');
    peers.push(p);
    try {
      await p.init();
      console.log(`[mnv2] ${p.label}: ${p.version}${p.adapter ? ` — ${p.adapter}` : ''}`);
    } catch (err) {
      initErrors.set(p, errText(err));
      console.log(`[mnv2] ${p.label}: FAILED to load: ${errText(err)}`);
    }
  }
  console.log(`[mnv2] timing: ${warmup} warm-up run(s) each, then median of ${repeats} rounds; every run awaited until the logits are on the host`);

  const results: Result[] = [];
  const write = (done: boolean) => {
    if (typeof out !== 'string') return;
    writeFileSync(
      out,
      markdown({
        done,
        command: `mnv2 bench infer ${argv.join(' ')}`.trim(),
        adapter: adapterName,
        peers,
        initErrors,
        results,
        repeats,
        warmup,
        wallS: (performance.now() - started) / 1000,
        load: [loadStart, loadavg()],
      }),
    );
  };

  for (const cfg of configs) {
    const flops = inferenceFlopsPerImage(cfg.alpha, cfg.size, cfg.classes);
    console.log(`\n== MobileNetV2 ${cfg.alpha}, ${cfgLabel(cfg)} (${(flops / 1e9).toFixed(3)} GFLOP per image) [${elapsed()}]`);
    const shared: SharedModel = { cfg, weights: await ours.weights(cfg), input: randomInput(cfg.batch * cfg.size * cfg.size * 3, 42) };
    const active: { peer: Peer; runner: PeerRunner; result: Result }[] = [];
    let reference: Float32Array | null = null;
    for (const peer of peers) {
      const result: Result = { cfg, peer, samples: [] };
      results.push(result);
      if (initErrors.has(peer)) {
        result.error = `failed to load: ${initErrors.get(peer)}`;
        continue;
      }
      let runner: PeerRunner | null = null;
      try {
        const t0 = performance.now();
        runner = await peer.prepare(shared);
        let y: Float32Array = new Float32Array();
        for (let i = 0; i < warmup; i++) y = await runner.run();
        if (y.length !== cfg.batch * cfg.classes) throw new Error(`output has ${y.length} values, expected ${cfg.batch * cfg.classes}`);
        if (peer === ours) reference = y.slice();
        else if (reference) {
          let d = 0;
          let m = 0;
          for (let i = 0; i < y.length; i++) {
            d = Math.max(d, Math.abs(y[i] - reference[i]));
            m = Math.max(m, Math.abs(reference[i]));
          }
          result.diff = d / m;
        }
        const check = result.diff === undefined ? '' : `, logits vs ours: max |Δ| / max |ours| = ${result.diff.toExponential(1)}${result.diff > 1e-2 ? ' (MISMATCH)' : ''}`;
        console.log(`  ${peer.label}: ready, setup + ${warmup} warm-up run(s) ${((performance.now() - t0) / 1000).toFixed(1)} s${check}`);
        active.push({ peer, runner, result });
      } catch (err) {
        result.error = errText(err);
        console.log(`  ${peer.label}: FAILED: ${result.error}`);
        await runner?.dispose();
      }
    }
    for (let r = 0; r < repeats; r++) {
      for (const a of active) {
        if (a.result.error) continue;
        try {
          const t0 = performance.now();
          await a.runner.run();
          a.result.samples.push(performance.now() - t0);
        } catch (err) {
          a.result.error = `run ${r + 1}: ${errText(err)}`;
          console.log(`  ${a.peer.label}: FAILED: ${a.result.error}`);
        }
      }
    }
    const oursRes = results.find((x) => x.cfg === cfg && x.peer === ours);
    for (const a of active) {
      if (!a.result.error) a.result.ms = median(a.result.samples);
      await a.runner.dispose();
    }
    for (const res of results.filter((x) => x.cfg === cfg)) {
      const c = cells(res, oursRes);
      const runs = res.samples.length ? `  [runs: ${res.samples.map((s) => s.toFixed(0)).join(', ')}]` : '';
      if (res.ms === undefined) console.log(`  ${res.peer.label.padEnd(20)} failed: ${res.error}`);
      else console.log(`  ${res.peer.label.padEnd(20)} ${c[2].padStart(8)} ms  ${c[3].padStart(7)} ms/img  ${c[4].padStart(7)} img/s  ${c[5].padStart(6)} GFLOP/s  ×${c[6]} ours${runs}`);
    }
    write(false);
  }

  console.log(`\n== summary (${elapsed()}; load average ${loadStart.map((x) => x.toFixed(2)).join(' ')} → ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  console.log(textTable(HEAD, results.map((r) => cells(r, results.find((x) => x.cfg === r.cfg && x.peer === ours))), 2));
  const failed = results.filter((r) => r.ms === undefined);
  for (const f of failed) console.log(`failed: ${f.peer.label} at ${cfgLabel(f.cfg)}: ${f.error}`);
  for (const l of targetLines(results)) console.log(`[mnv2] ${l}`);
  write(true);
  if (typeof out === 'string') console.log(`[mnv2] wrote ${out}`);
  for (const p of peers) {
    try {
      await p.dispose();
    } catch {
      /* best effort */
    }
  }
  e.destroy();
  return 0;
}

interface MarkdownInput {
  done: boolean;
  command: string;
  adapter: string;
  peers: Peer[];
  initErrors: Map<Peer, string>;
  results: Result[];
  repeats: number;
  warmup: number;
  wallS: number;
  load: [number[], number[]];
}

/** CPU model details that matter for software adapters (Linux /proc/cpuinfo): family/model, widest SIMD. */
function cpuDetails(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
    const flags = new Set((field('flags') ?? '').split(/\s+/));
    const simd = flags.has('avx512f') ? 'AVX-512' : flags.has('avx2') ? 'AVX2' : flags.has('sse4_2') ? 'SSE4.2' : '?';
    return `cpu family ${field('cpu family') ?? '?'} model ${field('model') ?? '?'}, ${simd}${flags.has('fma') ? '/FMA' : ''}`;
  } catch {
    return '';
  }
}

function markdown(m: MarkdownInput): string {
  const cpu = cpus();
  const ours = m.peers[0];
  const L: string[] = [];
  L.push('# MobileNetV2 inference: ours vs TF.js WebGPU vs ONNX Runtime (`mnv2 bench infer`)', '');
  if (!m.done) L.push('**Incomplete: the run did not finish (results so far).**', '');
  L.push(`- Date: ${new Date().toISOString()}`);
  L.push(`- Command: \`${m.command}\` (wall ${m.wallS.toFixed(0)} s)`);
  L.push(`- Adapter: ${m.adapter}`);
  const details = cpuDetails();
  L.push(`- Host: ${cpu.length} x ${cpu[0]?.model ?? '?'}${details ? ` (${details})` : ''}, Node ${process.version}, load average ${m.load[0].map((x) => x.toFixed(2)).join(' ')} at start, ${m.load[1].map((x) => x.toFixed(2)).join(' ')} at end`);
  L.push('- Implementations:');
  for (const p of m.peers) {
    const err = m.initErrors.get(p);
    L.push(`  - **${p.label}**: ${p.version}${p.adapter ? `; ${p.adapter}` : ''}${err ? ` — FAILED to load: \`${err}\`` : ''}`);
  }
  L.push('');
  L.push(
    'Network: MobileNetV2 alpha 1.0 with the 1000-class head (Keras architecture, 3,538,984 weights), random Glorot weights — ' +
      `the same values in every implementation (ours read back and copied in: into a tf.layers model built like Keras' ` +
      'mobilenet_v2.py for TF.js, into an ONNX graph written by `core/src/export/onnx-writer.ts` with BatchNorm folded into the convs ' +
      `for ONNX Runtime), the same input. ${ours.label}: inference path (BN folded, ReLU6 fused, one kernel per conv, one submit per forward).`,
  );
  L.push('');
  L.push(
    `Timing: ${m.warmup} warm-up run(s) of each implementation (shader compilation), then ${m.repeats} rounds, each running every ` +
      'implementation once in turn (so load changes hit all alike); a run includes uploading the input and is awaited until the ' +
      'logits are on the host; the median is reported. GFLOP/s counts 0.602 GFLOP per 224x224 image and 0.308 per 160x160 ' +
      '(multiply-add = 2; convolutions, depthwise convolutions, dense). "time ÷ ours" > 1 means ours is faster. The last column ' +
      "checks each peer's logits against ours.",
  );
  L.push('');
  L.push(mdTable(HEAD, m.results.map((r) => cells(r, m.results.find((x) => x.cfg === r.cfg && x.peer === ours))), 2));
  L.push('');
  const targets = targetLines(m.results);
  if (targets.length) {
    L.push('Issue target (ours ≥ 2x faster than TF.js WebGPU and faster than ONNX Runtime WebGPU at 224 b1 and 160 b8):', '');
    for (const t of targets) L.push(`- ${t}`);
    L.push('');
  }
  L.push(
    'For comparison, figures measured earlier with lavapipe on a 2-core AMD EPYC with AVX2, each peer in its own process ' +
      '(shared/docs/PEERS.md, ms per image at 224 b1 / 224 b8 / 160 b8): TF.js 4.22 WebGPU 583 / 509 / 265, ' +
      'ONNX Runtime 1.30 WebGPU 334 / 206 / 112, ONNX Runtime CPU (2 threads) 6.1 / 4.6 / 2.5. Absolute times depend on the ' +
      'host CPU (see Host above) and vary by 15-30 % between processes on lavapipe, more while other processes load the ' +
      'CPUs: compare the ratios measured side by side in one run.',
    '',
  );
  const failed = m.results.filter((r) => r.ms === undefined);
  if (failed.length) {
    L.push('Failures:', '');
    for (const f of failed) L.push(`- ${f.peer.label} at ${cfgLabel(f.cfg)}: \`${f.error}\``);
    L.push('');
  }
  L.push('Per-run times (ms per batch, in round order):', '');
  for (const r of m.results) if (r.samples.length) L.push(`- ${cfgLabel(r.cfg)}, ${r.peer.label}: ${r.samples.map((s) => s.toFixed(1)).join(', ')}`);
  L.push('');
  return L.join('\n');
}
