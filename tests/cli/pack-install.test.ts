// The four packages as a user gets them: `npm pack` each, install the tarballs into an empty folder
// outside the repository (offline, from npm's cache, with a lockfile made from the repository's own
// entries for their dependencies), then run the installed `mnv2` from there: doctor, classify with
// weights named through MNV2_WEIGHTS, and classify with no weights at all, which fetches Keras' file
// into the user's cache from a local server (the same code path as the real download) and says so.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { importTflite } from '@mnv2/core';
import { buildCli, ROOT, SHARED } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';
import { kerasFixture, kerasLayerSpecs, writeKerasH5 } from '../io/h5-fixture.js';

const PACKAGES = { kernels: '@mnv2/kernels', core: '@mnv2/core', cli: '@mnv2/cli', web: '@mnv2/web' } as const;
type Dir = keyof typeof PACKAGES;
const CAT = join(SHARED, 'datasets/coral_test_images/cat.bmp');
const TFLITE = join(SHARED, 'weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite');
const NOTICE = /artificially reduced/;

interface Packed {
  filename: string;
  files: { path: string }[];
}

/** An environment without anything that would point the CLI at the repository's weights. */
function userEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), KERAS_HOME: join(home, '.keras'), ...extra };
  for (const k of ['MNV2_WEIGHTS', 'MNV2_CACHE', 'MNV2_DEBUG', 'MNV2_VERBOSE', 'MNV2_WEIGHTS_BASE_URL', 'MNV2_LABELS_URL']) if (!(k in extra)) delete env[k];
  return env;
}

/** Runs the installed command without blocking this process (a test server may have to answer). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd, env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe(`${GPU} npm pack + install from the tarballs, outside the repository`, () => {
  let tmp: string;
  let app: string;
  let bin: string;
  let packed: Record<Dir, Packed>;

  beforeAll(() => {
    buildCli();
    const web = spawnSync('npx', ['turbo', 'run', 'build', '--filter=@mnv2/web', '--output-logs=errors-only'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    if (web.status !== 0) throw new Error(`web build failed:\n${web.stdout}\n${web.stderr}`);
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-pack-'));
    expect(relative(ROOT, tmp).startsWith('..')).toBe(true);
    const tgz = join(tmp, 'tgz');
    mkdirSync(tgz);
    const p = spawnSync('npm', ['pack', '--json', '--pack-destination', tgz, ...Object.values(PACKAGES).flatMap((n) => ['-w', n])], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (p.status !== 0) throw new Error(`npm pack failed:\n${p.stderr}`);
    const list = JSON.parse(p.stdout) as (Packed & { name: string })[];
    packed = Object.fromEntries(Object.entries(PACKAGES).map(([dir, name]) => [dir, list.find((x) => x.name === name)!])) as unknown as Record<Dir, Packed>;

    // The app: depends on the four tarballs; its lockfile takes every non-dev dependency entry of the
    // repository's lockfile (same versions, resolved URLs and integrity), so `npm ci --offline` can
    // install from npm's cache without asking the registry.
    app = join(tmp, 'app');
    mkdirSync(app);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
    const deps: Record<string, string> = {};
    const packages: Record<string, unknown> = {};
    for (const [dir, name] of Object.entries(PACKAGES)) {
      const file = join(tgz, packed[dir as Dir].filename);
      const ws = lock.packages[`packages/${dir}`];
      deps[name] = `file:${file}`;
      const entry: Record<string, unknown> = { version: ws.version, resolved: `file:${file}`, integrity: `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}` };
      for (const k of ['dependencies', 'optionalDependencies', 'bin', 'engines']) if (ws[k]) entry[k] = ws[k];
      packages[`node_modules/${name}`] = entry;
    }
    for (const [k, v] of Object.entries(lock.packages)) if (k.startsWith('node_modules/') && !v.dev && !v.devOptional && !v.link) packages[k] = v;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'mnv2-user', private: true, dependencies: deps }, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'mnv2-user', lockfileVersion: 3, requires: true, packages: { '': { name: 'mnv2-user', dependencies: deps }, ...packages } }, null, 2));
    const i = spawnSync('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8', timeout: 170_000 });
    if (i.status !== 0) throw new Error(`npm ci --offline in ${app} failed (npm's cache lacks a dependency? run 'npm ci' in the repository first):\n${i.stderr}`);
    bin = join(app, 'node_modules/.bin/mnv2');
  }, 400_000);

  it('each tarball holds its built files and a package.json whose exports, bin and engines point into it', () => {
    for (const [dir, name] of Object.entries(PACKAGES)) {
      const files = new Set(packed[dir as Dir].files.map((f) => f.path));
      expect([...files].filter((f) => f.startsWith('src/') || f.includes('tsconfig') || f.endsWith('.test.ts')), name).toEqual([]);
      const pkg = JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')) as {
        engines?: { node?: string };
        exports: Record<string, { types: string; import: string }>;
        bin?: Record<string, string>;
        dependencies?: Record<string, string>;
      };
      expect(pkg.engines?.node, `${name} engines.node`).toMatch(/^>=20/);
      for (const [sub, e] of Object.entries(pkg.exports)) {
        for (const target of [e.types, e.import]) expect(files.has(target.replace(/^\.\//, '')), `${name} exports['${sub}'] → ${target}`).toBe(true);
      }
      for (const target of Object.values(pkg.bin ?? {})) expect(files.has(target.replace(/^\.\//, '')), `${name} bin → ${target}`).toBe(true);
      for (const dep of Object.keys(pkg.dependencies ?? {})) expect(existsSync(join(app, 'node_modules', dep, 'package.json')), `${name} needs ${dep}`).toBe(true);
    }
    expect(readFileSync(join(app, 'node_modules/@mnv2/cli/dist/main.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    // the libraries import as a user's code would
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import * as c from '@mnv2/core'; import * as k from '@mnv2/kernels'; console.log(typeof c.Engine, Object.keys(k).length > 10)"], { cwd: app, encoding: 'utf8' });
    expect(r.stdout.trim(), r.stderr).toBe('function true');
  });

  it('mnv2 doctor runs from the install, quietly', async () => {
    const home = join(tmp, 'home-doctor');
    const r = await run(bin, ['doctor'], app, userEnv(home));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/WebGPU adapter: /);
    expect(r.stdout).toMatch(/maxStorageBufferBindingSize/);
    expect(r.stderr).not.toMatch(NOTICE);
  }, 60_000);

  it('mnv2 classify cat.bmp with weights named by MNV2_WEIGHTS', async () => {
    const r = await run(bin, ['classify', CAT, '--top', '1', '--json'], app, userEnv(join(tmp, 'home-env'), { MNV2_WEIGHTS: TFLITE }));
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { results: { top: { label: string }[] }[] };
    expect(doc.results[0].top[0].label).toBe('Egyptian cat');
  }, 120_000);

  describe('with no weights anywhere: fetches Keras\' file into the user\'s cache and says so', () => {
    let server: Server;
    let base: string;
    const requests: string[] = [];
    beforeAll(async () => {
      // Keras' published layout (legacy layer names, as in the real file) with real ImageNet weights
      // (the int8 Keras model's, dequantized), so the answer can be checked.
      const t = importTflite(readFileSync(TFLITE));
      const h5 = await writeKerasH5(kerasLayerSpecs(t.weights, { alpha: 1, inputSize: 224, includeTop: true, classes: 1000, names: 'legacy' }));
      const fileName = (await kerasFixture({ alpha: 1, size: 224, includeTop: true })).fileName;
      const files = new Map<string, Uint8Array>([
        [`/keras/${fileName}`, h5],
        ['/data/imagenet_class_index.json', readFileSync(join(SHARED, 'weights/labels/imagenet_class_index.json'))],
      ]);
      server = createServer((req, res) => {
        requests.push(req.url ?? '');
        const body = files.get(req.url ?? '');
        if (!body) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': body.length }).end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }, 120_000);
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('first run downloads and tells where; the second uses the cache without a request', async () => {
      const home = join(tmp, 'home-fetch');
      const env = userEnv(home, { MNV2_WEIGHTS_BASE_URL: `${base}/keras/`, MNV2_LABELS_URL: `${base}/data/imagenet_class_index.json` });
      const cache = join(home, '.cache/mnv2/weights');
      const first = await run(bin, ['classify', CAT, '--top', '1'], app, env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain(`fetching Keras' official MobileNetV2 1.0/224 ImageNet weights (mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5) from ${base}/keras/ into the cache ${cache}`);
      expect(first.stderr).toContain(`class names: fetched ${base}/data/imagenet_class_index.json into ${join(cache, 'imagenet_class_index.json')}`);
      expect(first.stdout).toMatch(/1\. Egyptian cat/);
      expect(existsSync(join(cache, 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5'))).toBe(true);
      expect(requests.length).toBe(2);

      const second = await run(bin, ['classify', CAT, '--top', '1'], app, env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).not.toMatch(/fetching/);
      expect(second.stdout).toBe(first.stdout);
      expect(requests.length).toBe(2);
    }, 240_000);
  });
});
