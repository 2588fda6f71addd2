// Helpers shared by the side-by-side benchmarks (`bench infer`, `bench train`): the same input data,
// one-line peer errors, and tables whose first `labelColumns` columns are text, the rest numbers.

/** Deterministic values in [-1, 1) (the range Keras' MobileNetV2 preprocessing gives), same for every peer. */
export function randomInput(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** First line of an error, bounded, for result tables. */
export const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 300);

export function textTable(head: string[], rows: string[][], labelColumns: number): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < labelColumns ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function mdTable(head: string[], rows: string[][], labelColumns: number): string {
  const row = (r: string[]) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`; // cells may hold '|'
  return [row(head), `|${head.map((_, i) => (i < labelColumns ? '---' : '---:')).join('|')}|`, ...rows.map(row)].join('\n');
}
