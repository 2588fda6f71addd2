// Rows, per-group totals and their text / markdown rendering for `mnv2 bench kernels`.
import type { CeilingResult } from './ceiling.js';
import type { CopyCeilingResult } from './copy-ceiling.js';
import { type BenchConfig, type Layer, configLabel } from './layers.js';

export interface Row {
  config: BenchConfig;
  entry: string;
  group: string;
  matmulLike: boolean;
  /** Layers with this exact shape (timed once, counted for each). */
  layers: string[];
  shape: string;
  ms: number;
  /** Process CPU ms per run (median), where measured. */
  cpuMs?: number;
  flops: number;
  bytes: number;
  /** Re-used from an earlier configuration with the same shapes. */
  reused: boolean;
}

export interface GroupTotal {
  group: string;
  layers: number;
  ms: number;
  /** Sum of the rows' CPU ms (NaN when a row has none). */
  cpuMs: number;
  flops: number;
  bytes: number;
  matmulLike: boolean;
}

export const gflops = (flops: number, ms: number) => flops / (ms * 1e6);
export const gbs = (bytes: number, ms: number) => bytes / (ms * 1e6);

export function shapeOf(l: Layer): string {
  if (l.kind === 'model') return `${(l.params ?? []).reduce((s, p) => s + p.reduce((a, b) => a * b, 1), 0).toLocaleString('en-US')} weights`;
  if (l.x.length !== 4 || l.y.length !== 4) return `${l.x.join('x')} → ${l.y.join('x')}`;
  const [n, h, w, c] = l.x;
  const [, oh, ow, oc] = l.y;
  return `${n}x${h}x${w}x${c} → ${oh}x${ow}x${oc}${l.stride === 2 ? ' s2' : ''}`;
}

export function totals(rows: Row[]): GroupTotal[] {
  const m = new Map<string, GroupTotal>();
  for (const r of rows) {
    const t = m.get(r.group) ?? { group: r.group, layers: 0, ms: 0, cpuMs: 0, flops: 0, bytes: 0, matmulLike: r.matmulLike };
    t.layers += r.layers.length;
    t.ms += r.ms * r.layers.length;
    t.cpuMs += (r.cpuMs ?? NaN) * r.layers.length;
    t.flops += r.flops * r.layers.length;
    t.bytes += r.bytes * r.layers.length;
    m.set(r.group, t);
  }
  return [...m.values()];
}

/** Groups whose sum approximates one inference forward (fused BN/ReLU6 epilogues). */
// (the residual adds are fused into the projections' 'pointwise fwd' rows; 'residual add' is the training path's)
export const INFERENCE_GROUPS = ['stem conv fwd', 'pointwise fwd', 'depthwise fwd', 'global avg pool', 'dense fwd'];

const pct = (x: number, ceiling: number) => `${((100 * x) / ceiling).toFixed(0)}%`;
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** "% ceil": compute-bound rows against the matmul ceiling (GFLOP/s), the others against the copy ceiling (GB/s). */
export function rowCells(r: Row, ceiling: number, copyGbs: number): string[] {
  const gf = gflops(r.flops, r.ms);
  const gb = gbs(r.bytes, r.ms);
  const name = r.layers.length > 1 ? `${r.layers[0]} (+${r.layers.length - 1})` : r.layers[0];
  return [r.entry, name, r.shape, f(r.ms, 3), r.cpuMs === undefined ? '' : f(r.cpuMs, 3), f(gf, 1), f(gb, 1), r.matmulLike ? pct(gf, ceiling) : `${pct(gb, copyGbs)} copy`, r.reused ? 'reused' : ''];
}
export const ROW_HEAD = ['kernel', 'layer', 'shape', 'ms', 'cpu ms', 'GFLOP/s', 'GB/s', '% ceil', 'note'];

export function totalCells(t: GroupTotal, ceiling: number, copyGbs: number): string[] {
  const gf = gflops(t.flops, t.ms);
  return [t.group, String(t.layers), f(t.ms, 2), f(t.flops / 1e9, 3), f(gf, 1), f(gbs(t.bytes, t.ms), 1), t.matmulLike ? pct(gf, ceiling) : `${pct(gbs(t.bytes, t.ms), copyGbs)} copy`];
}
export const TOTAL_HEAD = ['layer type', 'layers', 'ms (sum)', 'GFLOP', 'GFLOP/s', 'GB/s', '% ceil'];

/** "whole network vs sum of kernels": the timed inference forward against the sum of the inference groups. */
export function networkLine(tot: GroupTotal[], networkMs: number | undefined): string | null {
  if (networkMs === undefined) return null;
  const inf = tot.filter((t) => INFERENCE_GROUPS.includes(t.group));
  if (!inf.length) return null;
  const sum = inf.reduce((s, t) => s + t.ms, 0);
  return `whole network vs sum of kernels (inference forward): ${networkMs.toFixed(1)} ms vs ${sum.toFixed(1)} ms = ${(networkMs / sum).toFixed(2)}x`;
}

/** Per variant group ('<group> [variant]'): its time against the default's, as old/new ratios. */
export function variantLines(tot: GroupTotal[]): string[] {
  const out: string[] = [];
  for (const v of tot) {
    const m = /^(.*) \[(.+)\]$/.exec(v.group);
    const base = m && tot.find((t) => t.group === m[1]);
    if (!m || !base) continue;
    const cpu = Number.isFinite(v.cpuMs) && Number.isFinite(base.cpuMs) ? `; process CPU ${v.cpuMs.toFixed(2)} vs ${base.cpuMs.toFixed(2)} ms = ${(v.cpuMs / base.cpuMs).toFixed(2)}x` : '';
    out.push(`variant ${m[2]} vs default, ${base.group}: ${v.ms.toFixed(2)} ms vs ${base.ms.toFixed(2)} ms = default ${(v.ms / base.ms).toFixed(2)}x faster (wall${cpu})`);
  }
  return out;
}

/** Fixed-width text table (right-aligned numbers). */
export function textTable(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const num = (s: string) => /^[\d.,%+-]+$/.test(s);
  const line = (r: string[]) => r.map((c, i) => (num(c) ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function mdTable(head: string[], rows: string[][]): string {
  const numCol = head.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === '' || /^[\d.,%+-]+$/.test(r[i])));
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (numCol[i] ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export interface ReportInput {
  date: string;
  adapter: string;
  command: string;
  wallS: number;
  ceilingStart: CeilingResult[];
  ceilingEnd: CeilingResult[];
  ceiling: number;
  copyStart: CopyCeilingResult;
  copyEnd: CopyCeilingResult | null;
  copyGbs: number;
  /** Whole-network inference forward per configuration (ms). */
  network: Map<BenchConfig, number>;
  /** Per configuration: the forward's share of the ceiling timed interleaved with it (a line). */
  networkShare?: Map<BenchConfig, string>;
  /** os.loadavg() at the start and the end. */
  load: [number[], number[]];
  /** Which kernel variants ran. */
  variants: string;
  configs: BenchConfig[];
  rows: Row[];
  timing: string;
}

export function markdown(r: ReportInput): string {
  const out: string[] = [];
  out.push(`# Kernel benchmark: MobileNetV2 layer shapes`, '');
  out.push(`- date: ${r.date}`);
  out.push(`- adapter: ${r.adapter}`);
  out.push(`- command: \`${r.command}\` (${r.wallS.toFixed(0)} s wall)`);
  out.push(`- timing: ${r.timing}`);
  out.push(`- kernel variants: ${r.variants}`);
  out.push(`- load average (1/5/15 min) at start ${r.load[0].map((x) => x.toFixed(2)).join(' / ')}, at end ${r.load[1].map((x) => x.toFixed(2)).join(' / ')} (shared host: compare only within one run)`);
  out.push(
    `- adapter copy ceiling (copy kernel, bytes read + written, best of start and end): **${r.copyGbs.toFixed(1)} GB/s**; "% ceil … copy" compares a memory-bound kernel's GB/s (compulsory traffic) with it`,
  );
  out.push(
    `- adapter matmul ceiling (best of the candidates below, start and end of the run): **${r.ceiling.toFixed(1)} GFLOP/s**; "% ceil" compares a compute-bound kernel's GFLOP/s with it`,
    '',
  );
  const cRows = [...r.ceilingStart.map((c) => ['start', c] as const), ...r.ceilingEnd.map((c) => ['end', c] as const)].map(([when, c]) => [
    when,
    `${c.n}³`,
    c.tile,
    c.gflops.toFixed(1),
    Object.entries(c.all)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', '),
  ]);
  out.push(mdTable(['when', 'matmul', 'best block', 'GFLOP/s', 'all candidates (GFLOP/s)'], cRows), '');
  const copyRows = [['start', r.copyStart] as const, ...(r.copyEnd ? [['end', r.copyEnd] as const] : [])].map(([when, c]) => [
    when,
    Object.entries(c.all).map(([n, v]) => `${Number(n) / 2 ** 20} Mi floats ${v.toFixed(1)}`).join(', '),
    c.gbs.toFixed(1),
  ]);
  out.push(mdTable(['when', 'copy kernel (GB/s)', 'best GB/s'], copyRows), '');
  out.push(...summary(r), '');
  for (const cfg of r.configs) {
    const rows = r.rows.filter((x) => x.config === cfg);
    if (rows.length === 0) continue;
    out.push(`## alpha ${cfg.alpha}, ${configLabel(cfg)}`, '');
    const tot = totals(rows);
    const inf = tot.filter((t) => INFERENCE_GROUPS.includes(t.group));
    out.push(mdTable(TOTAL_HEAD, tot.map((t) => totalCells(t, r.ceiling, r.copyGbs))), '');
    if (inf.length) {
      const ms = inf.reduce((s, t) => s + t.ms, 0);
      out.push(`Inference forward estimate (sum of ${inf.map((t) => t.group).join(', ')}): **${ms.toFixed(1)} ms** (dispatch overhead not included).`, '');
    }
    const nl = networkLine(tot, r.network.get(cfg));
    if (nl) out.push(`${nl[0].toUpperCase()}${nl.slice(1)}.`, '');
    const sl = r.networkShare?.get(cfg);
    if (sl) out.push(`${sl[0].toUpperCase()}${sl.slice(1)}.`, '');
    const vl = variantLines(tot);
    if (vl.length) out.push(...vl.map((l) => `- ${l}`), '');
    out.push(mdTable(ROW_HEAD, rows.map((x) => rowCells(x, r.ceiling, r.copyGbs))), '');
  }
  return out.join('\n');
}

/** Per configuration: the matmul-family totals against the ceiling, where the time goes, the biggest gaps. */
function summary(r: ReportInput): string[] {
  const out: string[] = ['## Summary', ''];
  for (const cfg of r.configs) {
    const rows = r.rows.filter((x) => x.config === cfg);
    if (rows.length === 0) continue;
    const tot = totals(rows);
    const mm = tot.filter((t) => t.matmulLike && t.group.startsWith('pointwise'));
    const all = tot.reduce((s, t) => s + t.ms, 0);
    const top = [...tot].sort((a, b) => b.ms - a.ms).slice(0, 4);
    const mmText = mm.map((t) => `${t.group} ${gflops(t.flops, t.ms).toFixed(1)} GFLOP/s (${pct(gflops(t.flops, t.ms), r.ceiling)})`).join(', ');
    out.push(`- **${configLabel(cfg)}**:${mmText ? ` ${mmText}.` : ''}`);
    out.push(`  Most time (of ${all.toFixed(0)} ms for one pass of every op): ` + top.map((t) => `${t.group} ${t.ms.toFixed(1)} ms`).join(', ') + '.');
    const gaps = rows
      .filter((x) => x.matmulLike && x.ms >= 0.2)
      .map((x) => ({ x, share: gflops(x.flops, x.ms) / r.ceiling }))
      .sort((a, b) => a.share - b.share)
      .slice(0, 4);
    if (gaps.length) out.push(`  Furthest from the ceiling: ` + gaps.map(({ x, share }) => `${x.entry.split(' ')[0]} ${x.layers[0]} ${pct(share, 1)}`).join(', ') + '.');
  }
  return out;
}
