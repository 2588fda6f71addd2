// Training curves as one self-contained HTML page: two inline SVG charts (accuracy and loss, train vs
// validation), like the matplotlib plots in the Keras transfer-learning tutorial, with a dashed
// "Start fine-tuning" line. No scripts, no external resources, no dependencies.
import { writeAtomic } from '../util/atomic-write.js';
import { join } from 'node:path';

/** One history.json entry. Accepts both the snake_case keys train.ts writes and camelCase. */
export type HistoryEntry = Record<string, number | null | undefined>;

export interface CurvesOptions {
  /** Page and heading title (escaped). */
  title: string;
  /**
   * The 1-based epoch number of the first fine-tuning epoch. The dashed line is drawn at the boundary
   * before it (x = fineTuneStartEpoch - 0.5 on the 1-based epoch axis). When undefined, it is taken
   * from the first entry with `fine_tune: 1`, if any; pass null to never draw it.
   */
  fineTuneStartEpoch?: number | null;
}

interface Pt {
  x: number;
  y: number;
}

const W = 640;
const H = 300;
const M = { left: 64, right: 16, top: 28, bottom: 44 };
const TRAIN_COLOR = '#1f77b4';
const VAL_COLOR = '#ff7f0e';
const FT_COLOR = '#2ca02c';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function pick(e: HistoryEntry, ...keys: string[]): number | null {
  for (const k of keys) {
    const v = e[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return null;
}

function series(history: HistoryEntry[], keys: string[]): Pt[] {
  const out: Pt[] = [];
  history.forEach((e, i) => {
    const x = pick(e, 'epoch') ?? i + 1;
    const y = pick(e, ...keys);
    if (y !== null) out.push({ x, y });
  });
  return out;
}

/** "Nice" tick values covering [lo, hi] (about `n` of them). */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  const step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10) * mag;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9) * step;
  for (let v = first; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

const f = (v: number) => (Math.round(v * 100) / 100).toString();

function chart(
  heading: string,
  yLabel: string,
  train: Pt[],
  val: Pt[],
  xs: number[],
  ftX: number | null,
  clampY?: [number, number],
): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  // X range: epochs; pad a single epoch so it sits in the middle.
  let x0 = xs.length ? Math.min(...xs) : 1;
  let x1 = xs.length ? Math.max(...xs) : 1;
  if (ftX !== null) {
    x0 = Math.min(x0, ftX);
    x1 = Math.max(x1, ftX);
  }
  if (x1 - x0 < 1e-9) {
    x0 -= 1;
    x1 += 1;
  }
  // Y range: data, padded 5%, clamped (accuracy stays within [0, 1]).
  const ys = [...train, ...val].map((p) => p.y);
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  const pad = (y1 - y0) * 0.05 || Math.max(Math.abs(y0) * 0.05, 0.05);
  y0 -= pad;
  y1 += pad;
  if (clampY) {
    y0 = Math.max(y0, clampY[0]);
    y1 = Math.min(y1, clampY[1]);
    if (!(y1 > y0)) [y0, y1] = clampY;
  }
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => M.top + ph - ((y - y0) / (y1 - y0)) * ph;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(heading)}">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${f(M.left + pw / 2)}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(heading)}</text>`);

  // Y ticks + grid.
  for (const t of niceTicks(y0, y1)) {
    const y = sy(t);
    parts.push(`<line class="grid" x1="${M.left}" y1="${f(y)}" x2="${M.left + pw}" y2="${f(y)}" stroke="#e5e5e5"/>`);
    parts.push(`<line x1="${M.left - 4}" y1="${f(y)}" x2="${M.left}" y2="${f(y)}" stroke="#000"/>`);
    parts.push(`<text class="ytick" x="${M.left - 7}" y="${f(y + 4)}" text-anchor="end" font-size="11">${fmtTick(t)}</text>`);
  }
  // X ticks: integer epochs only.
  const xt = niceTicks(x0, x1, Math.min(10, Math.max(1, Math.round(x1 - x0)))).filter((t) => Number.isInteger(t));
  for (const t of xt) {
    const x = sx(t);
    parts.push(`<line x1="${f(x)}" y1="${M.top + ph}" x2="${f(x)}" y2="${M.top + ph + 4}" stroke="#000"/>`);
    parts.push(`<text class="xtick" x="${f(x)}" y="${M.top + ph + 16}" text-anchor="middle" font-size="11">${fmtTick(t)}</text>`);
  }
  // Axes.
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#000"/>`);
  parts.push(`<text x="${f(M.left + pw / 2)}" y="${H - 8}" text-anchor="middle" font-size="12">epoch</text>`);
  parts.push(`<text x="14" y="${f(M.top + ph / 2)}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${f(M.top + ph / 2)})">${escapeHtml(yLabel)}</text>`);

  // Fine-tune marker.
  if (ftX !== null) {
    const x = sx(ftX);
    parts.push(`<line class="fine-tune" x1="${f(x)}" y1="${M.top}" x2="${f(x)}" y2="${M.top + ph}" stroke="${FT_COLOR}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${f(x + 4)}" y="${M.top + ph - 6}" font-size="11" fill="${FT_COLOR}">Start fine-tuning</text>`);
  }

  // Series: polyline (when ≥ 2 points) plus a dot per point, so a single epoch is still visible.
  const draw = (pts: Pt[], color: string, cls: string) => {
    if (!pts.length) return;
    const coords = pts.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`).join(' ');
    parts.push(`<polyline class="${cls}" data-points="${pts.length}" points="${coords}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of pts) parts.push(`<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="2.5" fill="${color}"/>`);
  };
  draw(train, TRAIN_COLOR, 'train');
  draw(val, VAL_COLOR, 'val');

  // Legend (top right inside the plot).
  const entries: [string, string, boolean][] = [[`Training ${yLabel}`, TRAIN_COLOR, false]];
  if (val.length) entries.push([`Validation ${yLabel}`, VAL_COLOR, false]);
  if (ftX !== null) entries.push(['Start fine-tuning', FT_COLOR, true]);
  const lw = 170;
  const lx = M.left + pw - lw - 8;
  const ly = M.top + 8;
  parts.push(`<g class="legend"><rect x="${lx}" y="${ly}" width="${lw}" height="${entries.length * 18 + 8}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>`);
  entries.forEach(([label, color, dashed], i) => {
    const y = ly + 14 + i * 18;
    parts.push(`<line x1="${lx + 8}" y1="${y - 4}" x2="${lx + 32}" y2="${y - 4}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${lx + 38}" y="${y}" font-size="11">${escapeHtml(label)}</text>`);
  });
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('\n');
}

/** Renders the training history as a self-contained HTML page with accuracy and loss charts. */
export function renderCurves(history: readonly HistoryEntry[], opts: CurvesOptions): string {
  const h = [...history];
  const xs = h.map((e, i) => pick(e, 'epoch') ?? i + 1);
  let ftEpoch: number | null = null;
  if (opts.fineTuneStartEpoch !== undefined) ftEpoch = opts.fineTuneStartEpoch;
  else {
    const i = h.findIndex((e) => e['fine_tune'] === 1 || e['fineTune'] === 1);
    if (i >= 0) ftEpoch = xs[i]!;
  }
  const ftX = ftEpoch !== null && Number.isFinite(ftEpoch) ? ftEpoch - 0.5 : null;

  const accTrain = series(h, ['accuracy', 'acc']);
  const accVal = series(h, ['val_accuracy', 'valAccuracy', 'val_acc']);
  const lossTrain = series(h, ['loss']);
  const lossVal = series(h, ['val_loss', 'valLoss']);
  const title = escapeHtml(opts.title);
  const note = h.length ? '' : '<p>No epochs recorded yet.</p>';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:16px;color:#111}svg{display:block;margin:8px 0;font-family:system-ui,sans-serif}</style>
</head>
<body>
<h1>${title}</h1>
${note}${chart('Training and Validation Accuracy', 'accuracy', accTrain, accVal, xs, ftX, [0, 1])}
${chart('Training and Validation Loss', 'loss', lossTrain, lossVal, xs, ftX)}
</body>
</html>
`;
}

/** Writes `curves.html` into `dir` atomically (temp file, fsync, rename). Returns its path. */
export async function writeCurves(dir: string, history: readonly HistoryEntry[], opts: CurvesOptions): Promise<string> {
  const path = join(dir, 'curves.html');
  await writeAtomic(path, renderCurves(history, opts));
  return path;
}
