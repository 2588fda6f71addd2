// `mnv2 train` without weights named and without ../shared: the ImageNet base is Keras' official
// no-top file for the alpha and size, fetched once into the user's cache (as 'mnv2 weights fetch
// --no-top' does) from a local HTTP server (node:http, 127.0.0.1) serving a Keras-layout fixture, and
// said on stderr; the second time it comes from the cache, silently; $MNV2_WEIGHTS and ../shared
// still come first; an unpublished alpha says what to pass.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kerasWeightsFileName } from '@mnv2/core';
import { baseWeightsPath, loadBaseWeights } from '../../packages/cli/src/weights/base-weights.js';
import { kerasFixture, type KerasFixture } from '../io/h5-fixture.js';

const ALPHA = 0.35;
const FILE = kerasWeightsFileName(ALPHA, 96, false);

describe('mnv2 train: the ImageNet base when none is named', () => {
  let fx: KerasFixture;
  let server: Server;
  let base: string;
  let tmp: string;
  const requests: string[] = [];
  beforeAll(async () => {
    fx = await kerasFixture({ alpha: ALPHA, size: 96, includeTop: false, seed: 5 });
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (decodeURIComponent(req.url ?? '') !== `/keras/${FILE}`) {
        res.writeHead(404).end('Not Found');
        return;
      }
      res.writeHead(200, { 'content-length': fx.bytes.length }).end(fx.bytes);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keras/`;
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-train-base-'));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(tmp, { recursive: true, force: true });
  });
  const stderr = () => {
    const lines: string[] = [];
    return { lines, write: (s: string) => (lines.push(s), true), isTTY: false };
  };

  it("fetches Keras' no-top file for the alpha and size into the cache once, says so, and it loads as a base", async () => {
    const cache = join(tmp, 'cache');
    const env = { MNV2_CACHE: cache, MNV2_WEIGHTS_BASE_URL: base };
    const err = stderr();
    const path = await baseWeightsPath({ command: 'train', alpha: ALPHA, size: 96, sharedDirs: [], env, stderr: err, fetch: { kerasDir: null, retryDelayMs: 0 } });
    expect(path).toBe(join(cache, FILE));
    expect(err.lines.join('')).toContain(
      `mnv2 train: no base weights named (--weights, MNV2_WEIGHTS) and no ../shared/weights: fetching Keras' official MobileNetV2 0.35/96 ImageNet base weights without the top (${FILE}) from ${base} into the cache ${cache} (once; 'mnv2 weights fetch --no-top' does the same)`,
    );
    expect(requests).toEqual([`/keras/${FILE}`]);
    const b = await loadBaseWeights(path);
    expect(b.alpha).toBe(ALPHA);
    expect(b.weights.has('Conv1/kernel')).toBe(true);
    expect(b.weights.has('predictions/kernel')).toBe(false);

    const again = stderr();
    expect(await baseWeightsPath({ command: 'train', alpha: ALPHA, size: 96, sharedDirs: [], env, stderr: again, fetch: { kerasDir: null } })).toBe(path);
    expect(again.lines.join('')).not.toMatch(/fetching/);
    expect(requests).toHaveLength(1);
    // A size Keras does not publish (e.g. CIFAR's 32) takes its 224 file, as Keras does: 404 here, named.
    await expect(baseWeightsPath({ command: 'train', alpha: ALPHA, size: 32, sharedDirs: [], env, stderr: stderr(), fetch: { kerasDir: null, retryDelayMs: 0 } })).rejects.toThrow(/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top\.h5/);
  });

  it('$MNV2_WEIGHTS and a checkout\'s ../shared come first; an alpha Keras never published says what to pass', async () => {
    const shared = join(tmp, 'shared-weights');
    mkdirSync(join(shared, 'tfslim_npy_mobilenet_v2_1.0_224'), { recursive: true });
    const n = requests.length;
    expect(await baseWeightsPath({ command: 'train', alpha: 1, size: 160, sharedDirs: [shared], env: {}, stderr: stderr() })).toBe(join(shared, 'tfslim_npy_mobilenet_v2_1.0_224'));
    expect(await baseWeightsPath({ command: 'train', alpha: 1, size: 160, sharedDirs: [shared], env: { MNV2_WEIGHTS: '/some/base.h5' }, stderr: stderr() })).toBe('/some/base.h5');
    await expect(baseWeightsPath({ command: 'train', alpha: 0.6, size: 160, sharedDirs: [], env: { MNV2_CACHE: join(tmp, 'c2') }, stderr: stderr() })).rejects.toThrow(
      /Keras publishes ImageNet MobileNetV2 weights only for alpha .*not 0.6: pass --weights FILE, or --weights none to train from scratch/,
    );
    expect(requests).toHaveLength(n);
  });
});
