// The whole network at `--precision f16` (activations stored as f16, arithmetic, weights and logits
// f32) against the same network at f32: pretrained ImageNet weights on real photos, and in pages
// under a forced binding limit (where f16 fits twice the samples per page).
//
// Tolerance (measured on lavapipe, stated with margin): f16 rounds every activation (~2^-11 relative)
// through 53 layers; the logits stay within 1 % of the largest logit of f32 (measured 0.10 %, see the log
// line) and the top-1 class of every image is the same.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildClassifier, classifierInfo, importTflite, prepareImages, MobileNetV2Net, type Engine, type Tensor } from '@mnv2/core';
import { decodeImage } from '../../packages/cli/src/data/decode.js';
import { gpuEngine, gpuEngineWithBindingLimit, GPU } from '../helpers/gpu.js';
import { expectClose, maxAbs } from '../helpers/allclose.js';
import { randArray, f32 } from '../helpers/random.js';
import { TFLITE_KERAS } from '../io/files.js';
import { buildCli, mnv2, mnv2With } from '../helpers/cli.js';

const CORAL = fileURLToPath(new URL('../../../shared/datasets/coral_test_images/', import.meta.url));

const argmax = (a: ArrayLike<number>, from: number, n: number) => {
  let best = from;
  for (let i = from; i < from + n; i++) if (a[i] > a[best]) best = i;
  return best - from;
};

const e = await gpuEngine();

describe.runIf(e.hasF16)(`${GPU} MobileNetV2 at f16 vs f32`, () => {
  it('pretrained 1.0/224 (Keras TFLite weights) on two photos: logits within 1 % of the largest, same top-1, activations stored f16', async () => {
    const { weights, info: t } = importTflite(readFileSync(TFLITE_KERAS), TFLITE_KERAS);
    const info = classifierInfo(weights, { source: TFLITE_KERAS, alpha: t.alpha, classes: t.classes, background: t.background, inputSize: t.inputSize, epsilon: t.epsilon });
    const net = buildClassifier(e, weights, info);
    const imgs = await Promise.all(['cat.bmp', 'grace_hopper.bmp'].map((f) => decodeImage(CORAL + f)));
    const x = prepareImages(e, imgs, { size: info.inputSize, preprocess: info.preprocess });
    const logits = async () => {
      const y = e.tidy(() => net.forward(e, x, { training: false }));
      expect(y.dtype).toBe('f32'); // logits stay f32
      const v = await y.read();
      y.dispose();
      return v;
    };
    const y32 = await logits();
    net.setPrecision(e, 'f16');
    expect(net.convUnits().every((u) => u.dtype === 'f16')).toBe(true);
    // one unit's output really is f16 (half the bytes)
    const h = e.tidy(() => net.stem.forward(e, x, { training: false }));
    expect(h.dtype).toBe('f16');
    expect(h.bytes).toBe(h.size * 2);
    h.dispose();
    const y16 = await logits();
    net.setPrecision(e, 'f32');
    const k = info.classes;
    let worst = 0;
    for (let i = 0; i < y32.length; i++) worst = Math.max(worst, Math.abs(y16[i] - y32[i]));
    console.log(`[f16] logits: max |f16 - f32| = ${worst.toFixed(4)}, max |f32 logit| = ${maxAbs(y32).toFixed(2)} (${((100 * worst) / maxAbs(y32)).toFixed(2)} %)`);
    expectClose(y16, y32, { rtol: 0, atol: 0.01 * maxAbs(y32), what: 'logits' });
    for (let n = 0; n < 2; n++) expect(argmax(y16, n * k, k)).toBe(argmax(y32, n * k, k));
    x.dispose();
  });
});

describe.runIf(e.hasF16)(`${GPU} MobileNetV2 at f16 in pages (binding limit forced to 1 MiB)`, () => {
  let paged: Engine;
  beforeAll(async () => {
    paged = await gpuEngineWithBindingLimit(2 ** 20);
  });

  it('equals the unsplit f16 forward, pages > 1, and needs fewer pages than f32', async () => {
    const size = 48;
    const batch = 24;
    const input = f32(randArray(batch * size * size * 3, 7));
    const run = async (eng: Engine, precision: 'f32' | 'f16') => {
      const net = new MobileNetV2Net(eng, { alpha: 0.35, inputSize: size, head: { classes: 5, pooling: 'avg', dropout: 0 }, seed: 3, precision });
      const x = eng.upload(input, [batch, size, size, 3]);
      const before = { ...eng.paging };
      const y: Tensor = eng.tidy(() => net.forward(eng, x, { training: false }));
      const out = await y.read();
      const pages = eng.paging.pages - before.pages;
      const ops = eng.paging.pagedOps - before.pagedOps;
      y.dispose();
      x.dispose();
      net.dispose();
      return { out, pages, ops };
    };
    const whole16 = await run(e, 'f16');
    const paged16 = await run(paged, 'f16');
    const paged32 = await run(paged, 'f32');
    console.log(`[f16] 1 MiB binding limit, 0.35/48 batch 24: f16 ${paged16.ops} paged ops in ${paged16.pages} pages, f32 ${paged32.ops} in ${paged32.pages}`);
    expect(whole16.pages).toBe(0);
    expect(paged16.pages).toBeGreaterThan(paged16.ops);
    expect(paged16.pages).toBeLessThan(paged32.pages);
    // inference in pages runs the same kernels on whole samples: equal to the unsplit f16 forward
    expectClose(paged16.out, whole16.out, { rtol: 1e-6, atol: 1e-6, what: 'paged f16 logits' });
    // and close to f32 (random weights: a loose bound, the pretrained case above is the real check)
    expectClose(paged16.out, paged32.out, { rtol: 0, atol: 0.05 * maxAbs(paged32.out) + 1e-3, what: 'f16 vs f32 logits' });
  });
});

describe(`${GPU} mnv2 classify --precision (built CLI)`, () => {
  beforeAll(() => {
    buildCli();
  });
  const CAT = `${CORAL}cat.bmp`;
  type Doc = { results: { top: { label: string; probability: number }[] }[] };

  it.runIf(e.hasF16)('cat.bmp at f16: Egyptian cat, probability within 0.01 of f32', () => {
    const r32 = mnv2('classify', CAT, '--json', '--top', '1');
    const r16 = mnv2('classify', CAT, '--json', '--top', '1', '--precision', 'f16');
    expect(r16.code, r16.stderr).toBe(0);
    expect(r16.stderr).toMatch(/activations f16/);
    const [t32, t16] = [r32, r16].map((r) => (JSON.parse(r.stdout) as Doc).results[0].top[0]);
    expect(t16.label).toBe('Egyptian cat');
    expect(Math.abs(t16.probability - t32.probability)).toBeLessThan(0.01);
  });

  it('on SwiftShader (no shader-f16): exit 1, the error names the feature and the adapter, no stack trace', () => {
    const r = mnv2With({ VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' }, 'classify', CAT, '--precision', 'f16');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--precision f16 needs the WebGPU feature 'shader-f16', which the adapter '[^']*swiftshader[^']*' does not offer/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(mnv2('classify', CAT, '--precision', 'f8').stderr).toMatch(/--precision must be f32 or f16, got 'f8'/);
  });
});
