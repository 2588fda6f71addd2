// Accuracy and loss curves as one standalone SVG (the tutorials' matplotlib figure): training and
// validation lines, the start of fine-tuning marked.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Curves {
  accuracy?: number[];
  val_accuracy?: number[];
  loss?: number[];
  val_loss?: number[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function panel(x0: number, title: string, series: [string, number[] | undefined, string][], fineTuneAt: number | null, yRange: [number, number] | null, legendBottom: boolean): string {
  const W = 420;
  const H = 260;
  const m = { l: 48, r: 12, t: 28, b: 32 };
  const all = series.flatMap(([, v]) => (v ?? []).filter((y) => Number.isFinite(y)));
  const n = Math.max(1, ...series.map(([, v]) => v?.length ?? 0));
  let [lo, hi] = yRange ?? [Math.min(...all, 0), Math.max(...all, 1e-6)];
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, lo + 0.5];
  const sx = (i: number) => x0 + m.l + (n <= 1 ? 0 : (i / (n - 1)) * (W - m.l - m.r));
  const sy = (y: number) => m.t + (1 - (y - lo) / (hi - lo)) * (H - m.t - m.b);
  const parts = [`<rect x="${x0}" y="0" width="${W}" height="${H}" fill="white"/>`, `<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`];
  for (let k = 0; k <= 4; k++) {
    const y = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${x0 + m.l}" x2="${x0 + W - m.r}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`, `<text x="${x0 + m.l - 4}" y="${sy(y) + 4}" text-anchor="end" font-size="10">${y.toFixed(2)}</text>`);
  }
  for (let i = 0; i < n; i++) parts.push(`<text x="${sx(i)}" y="${H - 12}" text-anchor="middle" font-size="10">${i + 1}</text>`);
  if (fineTuneAt !== null && fineTuneAt > 0 && fineTuneAt < n) {
    const x = (sx(fineTuneAt - 1) + sx(fineTuneAt)) / 2;
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#888" stroke-dasharray="4 3"/>`, `<text x="${x + 4}" y="${legendBottom ? m.t + 10 : H - m.b - 6}" font-size="10" fill="#555">Start Fine Tuning</text>`);
  }
  series.forEach(([label, v, color], k) => {
    if (!v?.length) return;
    const pts = v.map((y, i) => `${sx(i).toFixed(1)},${sy(Number.isFinite(y) ? y : lo).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const [i, y] of v.entries()) parts.push(`<circle cx="${sx(i)}" cy="${sy(Number.isFinite(y) ? y : lo)}" r="2.5" fill="${color}"/>`);
    parts.push(`<text x="${x0 + W - m.r - 4}" y="${legendBottom ? H - m.b - 8 - 14 * (series.length - 1 - k) : m.t + 14 + 14 * k}" text-anchor="end" font-size="11" fill="${color}">${esc(label)}</text>`);
  });
  return parts.join('\n');
}

/** Writes the accuracy (left) and loss (right) curves; `fineTuneAt` = number of epochs before fine-tuning. */
export function writeCurvesSvg(path: string, c: Curves, opts: { title?: string; fineTuneAt?: number | null } = {}): void {
  const ft = opts.fineTuneAt ?? null;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="860" height="${opts.title ? 290 : 260}" font-family="sans-serif">`,
    opts.title ? `<text x="430" y="14" text-anchor="middle" font-size="13">${esc(opts.title)}</text><g transform="translate(0,26)">` : '<g>',
    panel(0, 'Training and Validation Accuracy', [['Training Accuracy', c.accuracy, '#1f77b4'], ['Validation Accuracy', c.val_accuracy, '#ff7f0e']], ft, [0, 1], true),
    panel(440, 'Training and Validation Loss', [['Training Loss', c.loss, '#1f77b4'], ['Validation Loss', c.val_loss, '#ff7f0e']], ft, null, false),
    '</g></svg>',
  ].join('\n');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg);
}

/** Concatenates two Keras histories' metric lists (`acc += history_fine.history['accuracy']`). */
export function concatCurves(a: Record<string, number[]>, b: Record<string, number[]>): Curves {
  const keys = ['accuracy', 'val_accuracy', 'loss', 'val_loss'] as const;
  return Object.fromEntries(keys.map((k) => [k, [...(a[k] ?? []), ...(b[k] ?? [])]])) as Curves;
}
