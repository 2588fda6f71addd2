// Runs an example as a user would (`tsx examples/<name>/main.ts ...`) in a child process and
// returns its exit code, output and result.json.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './fixtures.js';

export interface ExampleRun {
  code: number | null;
  output: string;
  out: string;
  result: Record<string, unknown> | null;
  seconds: number;
}

export function runExample(name: string, args: string[], timeoutMs = 85_000): Promise<ExampleRun> {
  const out = mkdtempSync(join(tmpdir(), `mnv2-${name}-out-`));
  const tsx = join(REPO, 'node_modules/tsx/dist/cli.mjs');
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsx, '--tsconfig', join(REPO, 'examples/tsconfig.json'), join(REPO, 'examples', name, 'main.ts'), ...args, '--out', out], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const rp = join(out, 'result.json');
      const result = existsSync(rp) ? (JSON.parse(readFileSync(rp, 'utf8')) as Record<string, unknown>) : null;
      resolve({ code, output, out, result, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

export const finite01 = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
