// Runs the built CLI (packages/cli/dist/main.js) as a user would, after building it once per file.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'packages/cli/dist/main.js');
export const SHARED = join(ROOT, '../shared');

/** Builds the CLI and what it depends on (turbo, cached); throws with the build's output on failure. */
export function buildCli(): void {
  const b = spawnSync('npx', ['turbo', 'run', 'build', '--filter=@mnv2/cli...', '--output-logs=errors-only'], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
  if (b.status !== 0) throw new Error(`build failed (npx turbo run build):\n${b.stdout}\n${b.stderr}`);
}

export function mnv2(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return mnv2With({}, ...args);
}

/** `mnv2` with extra environment variables (e.g. MNV2_MAX_BINDING_BYTES, MNV2_DEVICE_MEMORY). */
export function mnv2With(extraEnv: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env = { ...process.env, ...extraEnv };
  delete env.MNV2_DEBUG;
  delete env.MNV2_WEIGHTS; // tests name their weights or use the shared defaults
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 110_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const ALPACA = join(SHARED, 'datasets/alpaca/dataset');

/** A small alpaca dataset in `dir`: the first `perClass` files of each class, symlinked (no copies). */
export function linkAlpacaSubset(dir: string, perClass: number): void {
  for (const c of ['alpaca', 'not alpaca']) {
    mkdirSync(join(dir, c), { recursive: true });
    for (const f of readdirSync(join(ALPACA, c)).sort().slice(0, perClass)) symlinkSync(join(ALPACA, c, f), join(dir, c, f));
  }
}

/** Builds the CLI and makes a temp folder holding `data/`, a small alpaca set (`perClass` per class). */
export function cliWorkspace(prefix: string, perClass: number): { tmp: string; data: string } {
  buildCli();
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const data = join(tmp, 'data');
  linkAlpacaSubset(data, perClass);
  return { tmp, data };
}
