// Output that survives pipes: `--json` documents larger than a pipe's buffer arrive whole through a
// pipe (they were cut at 64 KiB when the process exited before stdout drained), and a reader that
// closes early (`| head -1`) ends the command quietly with the SIGPIPE status, no stack trace.
import { describe, it, beforeAll, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildCli, mnv2, MAIN } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';

/** Runs `mnv2 ARGS | CONSUMER` in bash; returns the consumer's stdout, mnv2's stderr and both statuses. */
function piped(args: string[], consumer: string): { out: string; err: string; mnv2Status: number; consumerStatus: number } {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `${q(process.execPath)} ${q(MAIN)} ${args.map(q).join(' ')} 2>"$ERRFILE" | ${consumer}; echo "status ${'${PIPESTATUS[0]}'} ${'${PIPESTATUS[1]}'}" >&2`;
  const errFile = join(tmpdir(), `mnv2-pipe-${process.pid}-${Math.random().toString(36).slice(2)}.err`);
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, ERRFILE: errFile }, timeout: 170_000, maxBuffer: 64 * 2 ** 20 });
  const m = /status (\d+) (\d+)/.exec(r.stderr);
  const err = spawnSync('cat', [errFile], { encoding: 'utf8' }).stdout;
  return { out: r.stdout, err, mnv2Status: Number(m?.[1]), consumerStatus: Number(m?.[2]) };
}

/** Small distinct PNGs in `dir` (class folders when `classes` > 0). */
async function pngs(dir: string, n: number, classes = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    const sub = classes ? join(dir, `class_${String(i % classes).padStart(2, '0')}`) : dir;
    mkdirSync(sub, { recursive: true });
    const px = Buffer.alloc(32 * 32 * 3, 0);
    for (let k = 0; k < px.length; k++) px[k] = (k * (i + 3) * 37 + (i % classes || 1) * 101) % 256;
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(sub, `img_${String(i).padStart(4, '0')}.png`));
  }
}

describe(`${GPU} CLI output through pipes`, () => {
  let tmp: string;
  beforeAll(async () => {
    buildCli();
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-pipes-'));
    await pngs(join(tmp, 'photos'), 40);
    await pngs(join(tmp, 'classes'), 60, 20);
    const t = mnv2('train', join(tmp, 'classes'), '--image-size', '32', '--epochs', '1', '--val-split', '0', '--out', join(tmp, 'run'));
    if (t.code !== 0) throw new Error(`training the run failed:\n${t.stdout}\n${t.stderr}`);
  }, 170_000);

  it('classify --json larger than 256 KiB arrives whole through a pipe', () => {
    const r = piped(['classify', join(tmp, 'photos'), '--json', '--top', '100'], 'cat');
    expect(r.mnv2Status, r.err).toBe(0);
    expect(r.out.length).toBeGreaterThan(256 * 1024);
    const doc = JSON.parse(r.out) as { results: { top: unknown[] }[]; errors: unknown[] };
    expect(doc.results).toHaveLength(40);
    expect(doc.results.every((x) => x.top.length === 100)).toBe(true);
    expect(r.out.trimStart().startsWith('{')).toBe(true); // no diagnostics on stdout
  }, 180_000);

  it('predict --json larger than 256 KiB arrives whole through a pipe', () => {
    const run = join(tmp, 'run');
    const folders = Array.from({ length: 20 }, (_, c) => join(tmp, 'classes', `class_${String(c).padStart(2, '0')}`));
    const r = piped(['predict', run, ...Array.from({ length: 6 }, () => folders).flat(), '--json'], 'cat');
    expect(r.mnv2Status, r.err).toBe(0);
    expect(r.out.length).toBeGreaterThan(256 * 1024);
    const doc = JSON.parse(r.out) as { results?: unknown[] } | unknown[];
    const results = Array.isArray(doc) ? doc : (doc.results ?? []);
    expect(results.length).toBe(360);
  }, 180_000);

  it('classify and predict --json stream their results: the first ones are on stdout while later batches still run', async () => {
    for (const args of [
      ['classify', join(tmp, 'photos'), '--json', '--top', '1', '--batch-size', '4'],
      ['predict', join(tmp, 'run'), join(tmp, 'photos'), '--json', '--batch-size', '4'],
    ]) {
      const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let firstResultWhileRunning: boolean | null = null;
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (firstResultWhileRunning === null && /"file"/.test(out)) firstResultWhileRunning = p.exitCode === null;
      });
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((res) => p.on('close', res));
      expect(code, err).toBe(0);
      expect(firstResultWhileRunning, args[0]).toBe(true);
      const doc = JSON.parse(out) as { results: { file: string }[]; errors: unknown[] };
      expect(doc.results).toHaveLength(40);
      expect(doc.errors).toEqual([]);
      expect(doc.results[0].file).toMatch(/img_0000\.png$/);
    }
  }, 180_000);

  it('a reader that closes early ends classify and predict quietly (status 141, no stack trace)', () => {
    for (const args of [
      ['classify', join(tmp, 'photos')],
      ['predict', join(tmp, 'run'), join(tmp, 'classes', 'class_00'), join(tmp, 'classes', 'class_01')],
    ]) {
      const r = piped(args, 'head -1');
      expect(r.consumerStatus).toBe(0);
      expect(r.out.split('\n').filter(Boolean), r.err).toHaveLength(1);
      expect(r.err).not.toMatch(/EPIPE|\n\s+at /);
      // 141 when a write met the closed pipe; 0 when everything fit the pipe before head closed it
      expect([0, 141], r.err).toContain(r.mnv2Status);
    }
  }, 180_000);
});
