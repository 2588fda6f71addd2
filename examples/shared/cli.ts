// Command-line flags and paths shared by the examples (kept tiny on purpose: each example reads
// like the Keras tutorial it ports).
import { existsSync, mkdirSync, writeFileSync, symlinkSync, readdirSync, mkdtempSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface ExampleArgs {
  data: string | null;
  small: boolean;
  out: string;
  weights: string;
  /** Other --name value flags. */
  values: Map<string, string>;
}

/** Parses `--data PATH --small --out DIR --weights PATH [--name value ...]`. */
export function parseExampleArgs(name: string, argv = process.argv.slice(2)): ExampleArgs {
  const values = new Map<string, string>();
  let small = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--small') small = true;
    else if (a === '--help' || a === '-h') values.set('help', '1');
    else if (a.startsWith('--')) {
      const [k, v] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), argv[++i]];
      if (v === undefined) throw new Error(`${name}: ${a} needs a value`);
      values.set(k, v);
    } else throw new Error(`${name}: unexpected argument '${a}'`);
  }
  return {
    data: values.get('data') ?? null,
    small,
    out: resolve(values.get('out') ?? join(repoRoot(), 'runs', 'examples', name + (small ? '-small' : ''))),
    weights: values.get('weights') ?? 'imagenet',
    values,
  };
}

export function num(a: ExampleArgs, key: string, dflt: number): number {
  const v = a.values.get(key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${key} must be a number, got '${v}'`);
  return n;
}

export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The shared read-only data folder next to a dev checkout (`../shared`). */
export function sharedDir(): string {
  return resolve(repoRoot(), '..', 'shared');
}

/** Writes JSON (pretty) into the run folder. */
export function writeJson(dir: string, file: string, value: unknown): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, file);
  writeFileSync(p, JSON.stringify(value, null, 2) + '\n');
  return p;
}

/** A temp folder of symlinks `{class}/{file}` → `root/{class}/{file}` for the chosen files. */
export function linkFolder(root: string, chosen: Record<string, readonly string[]>, into?: string): string {
  const dir = into ?? mkdtempSync(join(tmpdir(), 'mnv2-example-'));
  for (const [cls, files] of Object.entries(chosen)) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (const f of files) symlinkSync(join(root, cls, f), join(dir, cls, f));
  }
  return dir;
}

/** Class folder → sorted image files. */
export function listClasses(root: string): Record<string, string[]> {
  if (!existsSync(root)) throw new Error(`'${root}' does not exist`);
  const out: Record<string, string[]> = {};
  for (const d of readdirSync(root, { withFileTypes: true })) {
    if (!d.isDirectory() || d.name.startsWith('.')) continue;
    out[d.name] = readdirSync(join(root, d.name)).filter((f) => /\.(jpe?g|png|bmp|gif|webp|tiff?)$/i.test(f)).sort();
  }
  return out;
}

export const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(4));

/** Runs an example's `main`, printing only the message of an error (they are written for users). */
export function runMain(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
