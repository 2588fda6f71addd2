// Rows, per-group totals and their text / markdown rendering for `mnv2 bench kernels`.
import type { CeilingResult } from './ceiling.js';
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
  flops: number;
  bytes: number;
  /** Re-used from an earlier configuration with the same shapes. */
  reused: boolean;
}

export interface GroupTotal {
  group: string;
  layers: number;
  ms: number;
  flops: number;
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
    const t = m.get(r.group) ?? { group: r.group, layers: 0, ms: 0, flops: 0, matmulLike: r.matmulLike };
    t.layers += r.layers.length;
    t.ms += r.ms * r.layers.length;
    t.flops += r.flops * r.layers.length;
    m.set(r.group, t);
  }
  return [...m.values()];
}

/** Groups whose sum approximates one inference forward (fused BN/ReLU6 epilogues). */
export const INFERENCE_GROUPS = ['stem conv fwd', 'pointwise fwd', 'depthwise fwd', 'residual add', 'global avg pool', 'dense fwd'];

const pct = (x: number, ceiling: number) => `${((100 * x) / ceiling).toFixed(0)}%`;
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');

export function rowCells(r: Row, ceiling: number): string[] {
  const gf = gflops(r.flops, r.ms);
  const name = r.layers.length > 1 ? `${r.layers[0]} (+${r.layers.length - 1})` : r.layers[0];
  return [r.entry, name, r.shape, f(r.ms, 3), f(gf, 1), f(gbs(r.bytes, r.ms), 1), r.matmulLike ? pct(gf, ceiling) : '', r.reused ? 'reused' : ''];
}
export const ROW_HEAD = ['kernel', 'layer', 'shape', 'ms', 'GFLOP/s', 'GB/s', '% ceil', 'note'];

export function totalCells(t: GroupTotal, ceiling: number): string[] {
  const gf = gflops(t.flops, t.ms);
  return [t.group, String(t.layers), f(t.ms, 2), f(t.flops / 1e9, 3), f(gf, 1), t.matmulLike ? pct(gf, ceiling) : ''];
}
export const TOTAL_HEAD = ['layer type', 'layers', 'ms (sum)', 'GFLOP', 'GFLOP/s', '% ceil'];

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
  out.push(...summary(r), '');
  for (const cfg of r.configs) {
    const rows = r.rows.filter((x) => x.config === cfg);
    if (rows.length === 0) continue;
    out.push(`## alpha ${cfg.alpha}, ${configLabel(cfg)}`, '');
    const tot = totals(rows);
    const inf = tot.filter((t) => INFERENCE_GROUPS.includes(t.group));
    out.push(mdTable(TOTAL_HEAD, tot.map((t) => totalCells(t, r.ceiling))), '');
    if (inf.length) {
      const ms = inf.reduce((s, t) => s + t.ms, 0);
      out.push(`Inference forward estimate (sum of ${inf.map((t) => t.group).join(', ')}): **${ms.toFixed(1)} ms** (dispatch overhead not included).`, '');
    }
    out.push(mdTable(ROW_HEAD, rows.map((x) => rowCells(x, r.ceiling))), '');
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
    out.push(`- **${configLabel(cfg)}**: ` + mm.map((t) => `${t.group} ${gflops(t.flops, t.ms).toFixed(1)} GFLOP/s (${pct(gflops(t.flops, t.ms), r.ceiling)})`).join(', ') + '.');
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
