// Training-curve HTML (CPU): two inline SVGs, polyline point counts, the fine-tune marker, title
// escaping, one epoch, missing validation, NaN entries, and the atomic write.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCurves, writeCurves, niceTicks, type HistoryEntry } from '../../packages/cli/src/train/curves.js';

const hist = (n: number, ftFrom?: number): HistoryEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    epoch: i + 1,
    loss: 0.7 * Math.exp(-i / 4) + 0.05,
    accuracy: 0.5 + 0.45 * (1 - Math.exp(-i / 3)),
    val_loss: 0.6 * Math.exp(-i / 5) + 0.1,
    val_accuracy: 0.55 + 0.4 * (1 - Math.exp(-i / 3)),
    seconds: 3,
    fine_tune: ftFrom !== undefined && i + 1 >= ftFrom ? 1 : 0,
  }));

const polylines = (html: string) => [...html.matchAll(/<polyline class="(\w+)" data-points="(\d+)" points="([^"]*)"/g)].map((m) => ({ cls: m[1], n: Number(m[2]), pts: m[3]!.split(' ') }));

describe('renderCurves', () => {
  it('renders two SVG charts with one polyline per series and the right point counts', () => {
    const html = renderCurves(hist(10), { title: 'Run', fineTuneStartEpoch: null });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<svg\b/g)).toHaveLength(2);
    expect(html.match(/<\/svg>/g)).toHaveLength(2);
    const pl = polylines(html);
    expect(pl.map((p) => p.cls)).toEqual(['train', 'val', 'train', 'val']);
    for (const p of pl) {
      expect(p.n).toBe(10);
      expect(p.pts).toHaveLength(10);
      for (const xy of p.pts) expect(xy).toMatch(/^-?\d+(\.\d+)?,-?\d+(\.\d+)?$/);
    }
    expect(html).toContain('Training and Validation Accuracy');
    expect(html).toContain('Training and Validation Loss');
    expect(html).toContain('Validation accuracy');
    expect(html).toContain('class="xtick"');
    expect(html).toContain('class="ytick"');
    expect(html).toContain('>epoch</text>');
    // Self-contained: no scripts or external resources.
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
  });

  it('draws the fine-tune marker only when there is a fine-tune start', () => {
    const withFt = renderCurves(hist(12), { title: 't', fineTuneStartEpoch: 7 });
    expect(withFt.match(/class="fine-tune"/g)).toHaveLength(2);
    expect(withFt.match(/stroke-dasharray/g)!.length).toBeGreaterThanOrEqual(2);
    expect(withFt).toContain('Start fine-tuning');
    const without = renderCurves(hist(12), { title: 't' });
    expect(without).not.toContain('fine-tune');
    expect(without).not.toContain('Start fine-tuning');
    // Inferred from the fine_tune flag train.ts writes, unless null turns it off.
    expect(renderCurves(hist(12, 7), { title: 't' })).toContain('Start fine-tuning');
    expect(renderCurves(hist(12, 7), { title: 't', fineTuneStartEpoch: null })).not.toContain('Start fine-tuning');
  });

  it('puts the marker between the last frozen epoch and the first fine-tune epoch', () => {
    const html = renderCurves(hist(10), { title: 't', fineTuneStartEpoch: 6 });
    const svg = html.split('</svg>')[0]!;
    const train = polylines(svg)[0]!.pts.map((p) => Number(p.split(',')[0]));
    const x = Number(/class="fine-tune" x1="([\d.]+)"/.exec(svg)![1]);
    expect(x).toBeGreaterThan(train[4]!);
    expect(x).toBeLessThan(train[5]!);
  });

  it('escapes the title', () => {
    const html = renderCurves(hist(3), { title: '<script>alert("x")</script> & co' });
    expect(html).not.toContain('<script>');
    expect(html).toContain('<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</title>');
  });

  it('handles a single epoch', () => {
    const html = renderCurves(hist(1), { title: 'one' });
    expect(html.match(/<svg\b/g)).toHaveLength(2);
    for (const p of polylines(html)) expect(p.n).toBe(1);
    expect(html).not.toMatch(/NaN|Infinity/);
    expect(html).toMatch(/<circle /);
  });

  it('handles missing validation values and skips NaN / null entries', () => {
    const h: HistoryEntry[] = hist(6).map(({ val_loss: _vl, val_accuracy: _va, ...e }) => e);
    const html = renderCurves(h, { title: 'noval' });
    const pl = polylines(html);
    expect(pl.map((p) => p.cls)).toEqual(['train', 'train']);
    expect(html).not.toContain('Validation accuracy');
    expect(html).not.toMatch(/NaN|Infinity/);

    const g = hist(6);
    g[2]!.loss = NaN;
    g[3]!.val_loss = null;
    g[4]!.accuracy = Infinity;
    const html2 = renderCurves(g, { title: 'gaps' });
    expect(polylines(html2).map((p) => p.n)).toEqual([5, 6, 5, 5]);
    expect(html2).not.toMatch(/NaN|Infinity/);
  });

  it('renders an empty history without NaN', () => {
    const html = renderCurves([], { title: 'empty' });
    expect(html.match(/<svg\b/g)).toHaveLength(2);
    expect(html).not.toMatch(/NaN|Infinity/);
  });

  it('accepts camelCase validation keys', () => {
    const h = [{ epoch: 1, loss: 1, accuracy: 0.5, valLoss: 0.9, valAccuracy: 0.6 }, { epoch: 2, loss: 0.8, accuracy: 0.6, valLoss: 0.7, valAccuracy: 0.7 }];
    expect(polylines(renderCurves(h, { title: 'c' })).map((p) => p.n)).toEqual([2, 2, 2, 2]);
  });

  it('makes nice ticks', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 10, 9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('writeCurves', () => {
  it('writes curves.html atomically and leaves no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnv2-curves-'));
    try {
      const path = await writeCurves(dir, hist(20, 11), { title: 'Alpaca' });
      expect(path).toBe(join(dir, 'curves.html'));
      expect(readdirSync(dir)).toEqual(['curves.html']);
      expect(readFileSync(path, 'utf8')).toBe(renderCurves(hist(20, 11), { title: 'Alpaca' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
