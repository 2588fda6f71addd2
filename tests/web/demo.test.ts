// The web package end to end in real Chromium (Debian's /usr/bin/chromium, WebGPU on SwiftShader):
// the demo page classifies with the shared ImageNet MobileNetV2 (its logits equal the Node engine's on
// the Node adapter), learns two classes from real images, saves and reloads the trained model, and
// tells the user clearly about missing WebGPU, corrupt weights, worker crashes and device loss.
// Nothing here skips: without Chromium or WebGPU the tests fail and say what to install.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import * as ort from 'onnxruntime-node';
import { buildClassifier, classifierInfo, importTflite, prepareImages, serializeSafetensors, type Engine } from '@mnv2/core';
import { decodeImage } from '../../packages/cli/src/data/decode.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { liteRtModel } from '../helpers/litert.js';
import { ARTIFACTS, SETUP_HINT, SHARED, ensureDemoBuilt, launchChromium, startServer, type Browser, type TestServer } from './harness.js';

const TFLITE = 'weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite';
const CAT = join(SHARED, 'datasets/coral_test_images/cat.bmp');
const ALPACA = join(SHARED, 'datasets/alpaca/dataset');
const images = (cls: string) =>
  readdirSync(join(ALPACA, cls))
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .map((f) => join(ALPACA, cls, f));

/** A size x size RGB thumbnail (centre square, nearest pixel) of an image file, decoded in Node. */
async function thumbnail(path: string, size: number): Promise<Uint8Array> {
  const im = await decodeImage(path);
  const side = Math.min(im.width, im.height);
  const x0 = (im.width - side) >> 1;
  const y0 = (im.height - side) >> 1;
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sy = y0 + Math.floor(((y + 0.5) * side) / size);
      const sx = x0 + Math.floor(((x + 0.5) * side) / size);
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = im.rgb[(sy * im.width + sx) * 3 + c];
    }
  }
  return out;
}

/**
 * Runs an exported .onnx with ONNX Runtime (CPU) on RGB images already at the model's size: the
 * preprocessing the export documents (NHWC, x / 127.5 - 1). Returns the output's name, dims and rows.
 */
async function runOnnx(model: Uint8Array, images: Uint8Array[], size: number): Promise<{ input: string; output: string; dims: readonly number[]; rows: number[][] }> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  try {
    const n = size * size * 3;
    const x = new Float32Array(images.length * n);
    images.forEach((im, i) => {
      expect(im.length).toBe(n);
      for (let j = 0; j < n; j++) x[i * n + j] = im[j] / 127.5 - 1;
    });
    const output = session.outputNames[0];
    const y = (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [images.length, size, size, 3]) }))[output];
    const k = y.dims[1];
    const data = y.data as Float32Array;
    return { input: session.inputNames[0], output, dims: y.dims, rows: images.map((_, i) => Array.from(data.subarray(i * k, (i + 1) * k))) };
  } finally {
    await session.release();
  }
}

const maxAbsDiff = (a: number[][], b: number[][]) => Math.max(...a.map((r, i) => Math.max(...r.map((v, k) => Math.abs(v - b[i][k])))));

/** Page-side globals used inside page.evaluate (tests/tsconfig.json has no DOM lib; these callbacks run in the page). */
interface PageGlobals {
  document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };
  navigator: object;
  caches: { open(name: string): Promise<{ keys(): Promise<{ url: string }[]> }> };
}

interface DemoState {
  ready: boolean;
  lastClassify: { top: { label: string; probability: number }[]; logits?: number[]; probabilities: number[] }[] | null;
  lastTry: { top: { label: string; probability: number }[]; probabilities: number[] }[] | null;
  lastFit: { stepLosses: number[]; history: { loss: number; accuracy: number; stage: string }[]; seconds: number } | null;
  model: { summary: { fromCache: boolean; source: string; timings: Record<string, number> } } | null;
  errors: string[];
  progress: { stage: string; loaded: number; total: number | null; fromCache: boolean }[];
}

let server: TestServer;
let browser: Browser;
const timings: Record<string, number> = {};

async function time<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = (Date.now() - t0) / 1000;
  }
}

/** The demo's test hooks (window.mnv2demo), the plain-data fields only. */
const state = (page: Page): Promise<DemoState> =>
  page.evaluate(() => {
    const d = (globalThis as unknown as { mnv2demo: DemoState }).mnv2demo;
    return JSON.parse(JSON.stringify({ progress: d.progress, ready: d.ready, lastClassify: d.lastClassify, lastTry: d.lastTry, lastFit: d.lastFit, model: d.model ? { summary: d.model.summary } : null, errors: d.errors })) as DemoState;
  });

/** Opens the demo and waits until the ImageNet model is loaded (or fails with the page's own message). */
async function openDemo(query = ''): Promise<Page> {
  const page = await browser.context.newPage();
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(`${server.url}/${query}`);
  await page.waitForFunction(() => {
    const d = (globalThis as unknown as { mnv2demo?: DemoState }).mnv2demo;
    return !!d && (d.ready || d.errors.length > 0);
  }, undefined, { timeout: 90_000 });
  const s = await state(page);
  if (!s.ready) throw new Error(`the demo did not load its model: ${s.errors.join(' | ')}${consoleErrors.length ? ` (page errors: ${consoleErrors.join(' | ')})` : ''}. If this says WebGPU is missing: ${SETUP_HINT}`);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// A setup failure (no Chromium, build error) fails every test with its message instead of leaving
// them "skipped" behind a failed hook.
let setupError: Error | null = null;
function need(): void {
  if (setupError) throw setupError;
}

beforeAll(async () => {
  try {
    await time('build', async () => void ensureDemoBuilt());
    server = await startServer();
    // A fake camera (a generated test pattern) for the webcam buttons; permission prompts auto-accepted.
    browser = await time('launch', () => launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']));
  } catch (e) {
    setupError = e instanceof Error ? e : new Error(String(e));
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  console.log(`[web e2e] seconds: ${JSON.stringify(timings)}`);
});

describe('web demo in Chromium (WebGPU on SwiftShader)', () => {
  let page: Page;
  let pageLogits: number[];

  it('classifies cat.bmp as "Egyptian cat" in the page, the weights streamed with progress', async () => {
    need();
    page = await time('open+load model', () => openDemo());
    expect(await page.textContent('#load-status')).toMatch(/^Ready: TFLite/);
    expect(await page.textContent('#gpu-status')).toMatch(/WebGPU: .*swiftshader/i);
    await time('classify cat', async () => {
      await page.setInputFiles('#classify-file', CAT);
      await page.waitForSelector('#classify-results .result');
    });
    const first = await page.textContent('#classify-results .result .pred .label');
    expect(first).toBe('Egyptian cat');
    const s = await state(page);
    expect(s.lastClassify![0].top[0].label).toBe('Egyptian cat');
    pageLogits = s.lastClassify![0].logits!;
    expect(pageLogits).toHaveLength(1000);
    expect(server.hits.get(`/${TFLITE}`)).toBe(1);
    const size = readFileSync(join(SHARED, TFLITE)).length;
    const dl = s.progress.filter((p) => p.stage === 'download');
    expect(dl[0]).toEqual({ stage: 'download', loaded: 0, total: size, fromCache: false });
    expect(dl[dl.length - 1]).toEqual({ stage: 'download', loaded: size, total: size, fromCache: false });
    expect(s.progress.map((p) => p.stage)).toEqual(expect.arrayContaining(['download', 'import', 'build']));
    await shot(page, 'classify');
  });

  it(`${GPU} the page's logits equal the Node engine's (same weights, same image) within 1e-3`, async () => {
    need();
    const e: Engine = await gpuEngine();
    const path = join(SHARED, TFLITE);
    const { weights, info: t } = importTflite(readFileSync(path), path);
    const info = classifierInfo(weights, { source: path, alpha: t.alpha, inputSize: t.inputSize, classes: t.classes, background: t.background, preprocess: 'tf', padding: 'same', epsilon: t.epsilon });
    const net = buildClassifier(e, weights, info);
    const img = await decodeImage(CAT);
    const x = prepareImages(e, [img], { size: info.inputSize, preprocess: info.preprocess });
    const l = e.tidy(() => net.forward(e, x, { training: false }));
    const node = Array.from(await l.read());
    expect(pageLogits, 'the classify test above must have run').toBeDefined();
    x.dispose();
    l.dispose();
    let maxDiff = 0;
    for (let i = 0; i < node.length; i++) maxDiff = Math.max(maxDiff, Math.abs(node[i] - pageLogits[i]));
    console.log(`[web e2e] max |logit page - logit node| = ${maxDiff.toExponential(3)} (logit range ${Math.min(...node).toFixed(2)}..${Math.max(...node).toFixed(2)})`);
    expect(node).toHaveLength(pageLogits.length);
    expect(maxDiff).toBeLessThan(1e-3);
    // The same weights as safetensors (Keras names), for the next test.
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'imagenet.safetensors'), serializeSafetensors(weights, { format: 'mnv2', input_size: '224', preprocess: 'tf', padding: 'same', epsilon: String(info.epsilon) }));
  });

  it('loads the same weights as .safetensors from a URL and from a picked file: same logits', async () => {
    need();
    const p = await openDemo('?weights=/artifacts/imagenet.safetensors');
    expect(await p.textContent('#load-status')).toMatch(/^Ready: safetensors, alpha 1/);
    await p.setInputFiles('#classify-file', CAT);
    await p.waitForSelector('#classify-results .result');
    const viaUrl = (await state(p)).lastClassify![0].logits!;
    await p.setInputFiles('#weights-file', join(ARTIFACTS, 'imagenet.safetensors'));
    await p.waitForFunction(() => /^Ready: safetensors/.test((globalThis as unknown as PageGlobals).document.querySelector('#load-status')?.textContent ?? '') && (globalThis as unknown as { mnv2demo: DemoState }).mnv2demo.ready);
    expect((await state(p)).model!.summary).toMatchObject({ source: 'imagenet.safetensors', fromCache: false });
    await p.evaluate(() => void ((globalThis as unknown as { mnv2demo: DemoState }).mnv2demo.lastClassify = null));
    await p.setInputFiles('#classify-file', CAT);
    await p.waitForFunction(() => (globalThis as unknown as { mnv2demo: DemoState }).mnv2demo.lastClassify !== null);
    const viaFile = (await state(p)).lastClassify![0].logits!;
    const diff = (a: number[]) => Math.max(...a.map((v, i) => Math.abs(v - pageLogits[i])));
    console.log(`[web e2e] safetensors vs tflite logits: URL ${diff(viaUrl).toExponential(2)}, file ${diff(viaFile).toExponential(2)}`);
    expect(diff(viaUrl)).toBeLessThan(1e-5);
    expect(diff(viaFile)).toBeLessThan(1e-5);
    await p.close();
  });

  it('learns alpaca / not alpaca from 8 + 8 real images at 96x96 (falling loss), saves, reloads the page and gets the same answers', async () => {
    need();
    await page.click('nav button[data-tab="teach"]');
    await page.selectOption('#image-size', '96');
    const names = ['alpaca', 'not alpaca'];
    for (let c = 0; c < 2; c++) {
      const card = `.class-card[data-index="${c}"]`;
      await page.fill(`${card} input[type="text"]`, names[c]);
      await page.dispatchEvent(`${card} input[type="text"]`, 'change');
      await page.setInputFiles(`${card} input.class-files`, images(names[c]).slice(0, 8));
      await page.waitForFunction((sel) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent?.includes('8 images'), `${card} .count`, { timeout: 60_000 });
    }
    await page.fill('#epochs', '6');
    await page.fill('#batch-size', '8');
    await page.check('#fine-tune');
    await page.fill('#fine-tune-at', '140');
    await page.fill('#fine-tune-epochs', '1');
    await time('train', async () => {
      await page.click('#train');
      await page.waitForFunction(() => /Trained in|failed/.test((globalThis as unknown as PageGlobals).document.querySelector('#train-status')?.textContent ?? ''), undefined, { timeout: 120_000 });
    });
    const s = await state(page);
    expect(s.errors).toEqual([]);
    const fit = s.lastFit!;
    expect(fit.history).toHaveLength(7);
    expect(fit.history.map((h) => h.stage)).toEqual([...Array(6).fill('frozen'), 'fine-tune']);
    expect(Number.isFinite(fit.history[6].loss)).toBe(true);
    const losses = fit.history.slice(0, 6).map((h) => h.loss);
    console.log(`[web e2e] fine-tune epoch: loss ${fit.history[6].loss.toFixed(4)}, accuracy ${fit.history[6].accuracy.toFixed(2)}`);
    console.log(`[web e2e] epoch losses ${losses.map((l) => l.toFixed(4)).join(' ')}; accuracy ${fit.history.map((h) => h.accuracy.toFixed(2)).join(' ')}; ${fit.seconds.toFixed(1)} s`);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.8);
    expect(fit.stepLosses[fit.stepLosses.length - 1]).toBeLessThan(fit.stepLosses[0]);
    await shot(page, 'teach');

    // Two images it has not seen.
    const held = [images('alpaca')[10], images('not alpaca')[10]];
    await page.setInputFiles('#try-file', held);
    await page.waitForSelector('#try-results .result');
    const before = (await state(page)).lastTry!;
    // 16 images at 96x96 make a weak model: the test checks the mechanics (labels are the new classes,
    // probabilities sum to 1), and accuracy on the examples after training.
    for (const r of before) {
      expect(['alpaca', 'not alpaca']).toContain(r.top[0].label);
      expect(r.probabilities[0] + r.probabilities[1]).toBeCloseTo(1, 5);
    }
    console.log(`[web e2e] held-out: ${before.map((r) => `${r.top[0].label} ${(100 * r.top[0].probability).toFixed(0)}%`).join(', ')}`);
    await page.click('#evaluate');
    await page.waitForFunction(() => /accuracy/.test((globalThis as unknown as PageGlobals).document.querySelector('#try-results')?.textContent ?? ''));
    const evalText = (await page.textContent('#try-results'))!;
    const acc = Number(/accuracy ([\d.]+)%/.exec(evalText)![1]);
    console.log(`[web e2e] ${evalText}`);
    expect(acc).toBeGreaterThanOrEqual(75);
    await page.setInputFiles('#try-file', held);
    await page.waitForSelector('#try-results .result');

    // Save (a real download), then a fresh page: the ImageNet weights come from the cache, the model from the file.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const saved = join(ARTIFACTS, 'mnv2-model.safetensors');
    await download.saveAs(saved);

    // "Download ONNX": ONNX Runtime (Node, CPU) on the downloaded file gives the page's logits for the
    // same 96x96 pixels (given to the page as RGB bytes, so both sides see identical inputs).
    await time('onnx (binary head)', async () => {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#save-onnx')]);
      expect(dl.suggestedFilename()).toBe('mnv2-model.onnx');
      const onnxPath = join(ARTIFACTS, 'mnv2-model.onnx');
      await dl.saveAs(onnxPath);
      expect(await page.textContent('#save-status')).toMatch(/saved mnv2-model\.onnx .*input \[N,96,96,3\] in \[-1,1\]/);
      const pix = await Promise.all(held.map((f) => thumbnail(f, 96)));
      const inPage = await page.evaluate(async (px) => {
        type T = { classify(ims: object[], o: object): Promise<{ logits: number[]; probabilities: number[] }[]> };
        const t = (globalThis as unknown as { mnv2demo: { trainer: T } }).mnv2demo.trainer;
        return t.classify(px.map((p) => ({ width: 96, height: 96, rgb: new Uint8Array(p) })), { logits: true });
      }, pix.map((p) => Array.from(p)));
      const ran = await runOnnx(readFileSync(onnxPath), pix, 96);
      expect(ran.output).toBe('logits');
      expect(ran.dims).toEqual([2, 1]); // binary head: one logit
      const d = maxAbsDiff(ran.rows, inPage.map((r) => r.logits));
      const probs = ran.rows.map(([l]) => [1 - 1 / (1 + Math.exp(-l)), 1 / (1 + Math.exp(-l))]);
      const dp = maxAbsDiff(probs, inPage.map((r) => r.probabilities));
      console.log(`[web e2e] ONNX Runtime vs page (binary, 96x96): logits max |diff| ${d.toExponential(2)}, probabilities ${dp.toExponential(2)}`);
      expect(d).toBeLessThan(1e-3);
      expect(dp).toBeLessThan(1e-3);
    });
    await page.close();
    page = await openDemo();
    expect((await state(page)).model!.summary.fromCache).toBe(true);
    expect(server.hits.get(`/${TFLITE}`)).toBe(1); // not downloaded again
    await page.click('nav button[data-tab="teach"]');
    await page.setInputFiles('#load-file', saved);
    await page.waitForFunction(() => /loaded mnv2-model/.test((globalThis as unknown as PageGlobals).document.querySelector('#save-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect(await page.inputValue('.class-card[data-index="1"] input[type="text"]')).toBe('not alpaca');
    await page.setInputFiles('#try-file', held);
    await page.waitForSelector('#try-results .result');
    const after = (await state(page)).lastTry!;
    for (let i = 0; i < 2; i++) for (let k = 0; k < 2; k++) expect(Math.abs(after[i].probabilities[k] - before[i].probabilities[k])).toBeLessThan(1e-5);
    await shot(page, 'reloaded');
  });

  it('webcam frames: classify a frame and add snapshots to a class (fake camera)', async () => {
    need();
    await page.click('nav button[data-tab="classify"]');
    await page.click('#classify-webcam');
    await page.waitForSelector('#classify-cam:not([hidden])');
    await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.querySelector('#classify-video') as unknown as { readyState: number }).readyState >= 2);
    await page.click('#classify-snap');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('#classify-results .result').length === 1);
    expect((await state(page)).lastClassify![0].top).toHaveLength(5);
    await page.click('#classify-cam-stop');
    await page.click('nav button[data-tab="teach"]');
    await page.click('.class-card[data-index="0"] button:has-text("Webcam snapshot")');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('.class-card[data-index="0"] .count')?.textContent === '1 images');
  });

  it('the adapter panel shows the adapter, its features and limits, and per-step timings', async () => {
    need();
    await page.click('nav button[data-tab="adapter"]');
    await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.querySelector('#timings')?.textContent ?? '').includes('ms'));
    expect(await page.textContent('#adapter-info')).toMatch(/swiftshader/);
    expect(await page.textContent('#adapter-limits')).toMatch(/maxStorageBufferBindingSize/);
    const t = (await page.textContent('#timings'))!;
    expect(t).toMatch(/load: download/);
    expect(t).toMatch(/add images: decode/);
    await shot(page, 'adapter');
    await page.close();
  });
});

describe('web library API in the page (Mnv2Client, no demo UI)', () => {
  it('three classes (softmax head) from fetched Blobs at 64x64: fit, evaluate, save, load into a new trainer, same outputs; saveOnnx runs in ONNX Runtime and saveTflite in LiteRT.js with the same outputs', async () => {
    need();
    const page = await openDemo();
    const pix = await Promise.all(['alpaca/01ad3ff1d94eb557.jpg', 'not alpaca/002bdaf1c177effd.jpg', 'alpaca/' + readdirSync(join(ALPACA, 'alpaca')).sort()[5]].map((f) => thumbnail(join(ALPACA, f), 64)));
    const r = await page.evaluate(async (px) => {
      type T = {
        addImages(c: number, ims: Blob[]): Promise<{ errors: string[] }>;
        fit(o: object): Promise<{ history: { loss: number; valLoss: number | null; valAccuracy: number | null }[] }>;
        evaluate(): Promise<{ accuracy: number; images: number }>;
        classify(ims: Blob[]): Promise<{ probabilities: number[]; top: { label: string }[] }[]>;
        save(): Promise<Uint8Array>;
        saveOnnx(o?: object): Promise<Uint8Array>;
        saveTflite(o?: object): Promise<Uint8Array>;
        load(b: Uint8Array): Promise<{ classes: string[]; imageSize: number }>;
      };
      const d = (globalThis as unknown as { mnv2demo: { client: { createTrainer(o: object): Promise<T> } } }).mnv2demo;
      const list = ['alpaca/01ad3ff1d94eb557.jpg', 'alpaca/0346463867a297f4.jpg', 'not alpaca/002bdaf1c177effd.jpg', 'not alpaca/0155b267ade95d1e.jpg'];
      const blobs = await Promise.all(list.map(async (f) => (await fetch(`/datasets/alpaca/dataset/${f}`)).blob()));
      const t = await d.client.createTrainer({ base: './weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', classes: ['a', 'b', 'c'], imageSize: 64 });
      await t.addImages(0, blobs.slice(0, 2));
      await t.addImages(1, blobs.slice(2, 4));
      const errs = (await t.addImages(2, [blobs[0], new Blob(['not an image'], { type: 'image/png' })])).errors;
      const fit = await t.fit({ epochs: 3, batchSize: 4, learningRate: 0.01, validationSplit: 0.5 });
      const ev = await t.evaluate();
      const before = await t.classify(blobs);
      // ONNX: the bytes (base64 across page.evaluate) and the page's outputs on the same RGB pixels.
      const onnx = await t.saveOnnx();
      let bin = '';
      for (let i = 0; i < onnx.length; i += 0x8000) bin += String.fromCharCode(...onnx.subarray(i, i + 0x8000));
      const onnxOut = await (t as unknown as { classify(ims: object[], o: object): Promise<{ logits: number[]; probabilities: number[] }[]> }).classify(
        px.map((p) => ({ width: 64, height: 64, rgb: new Uint8Array(p) })),
        { logits: true },
      );
      const softmaxLen = (await t.saveOnnx({ softmax: true, layout: 'nchw', foldBatchNorm: true })).length;
      // TFLite, float and int8 (calibrated on the trainer's images, uint8 in/out), as the demo's buttons ask.
      const b64 = (u: Uint8Array) => {
        let s = '';
        for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
        return btoa(s);
      };
      const tflite = b64(await t.saveTflite());
      const tfliteInt8 = b64(await t.saveTflite({ int8: true, inputType: 'uint8', outputType: 'uint8' }));
      const bytes = await t.save();
      const t2 = await d.client.createTrainer({ base: './weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', classes: ['x', 'y'] });
      const loaded = await t2.load(bytes);
      const after = await t2.classify(blobs);
      return { errs, losses: fit.history.map((h) => h.loss), val: fit.history.map((h) => [h.valLoss, h.valAccuracy]), ev, before, after, loaded, bytes: bytes.length, onnx: btoa(bin), onnxOut, softmaxLen, tflite, tfliteInt8 };
    }, pix.map((p) => Array.from(p)));
    expect(r.errs).toHaveLength(1);
    expect(r.errs[0]).toMatch(/cannot decode image 2 \(image\/png\)/);
    expect(r.losses).toHaveLength(3);
    expect(r.losses[2]).toBeLessThan(r.losses[0]);
    expect(r.ev.images).toBe(5);
    // validationSplit 0.5: one image of each two-image class held out (the one-image class keeps its image).
    for (const [vl, va] of r.val) {
      expect(Number.isFinite(vl)).toBe(true);
      expect([0, 0.5, 1]).toContain(va);
    }
    expect(r.loaded).toEqual({ ...r.loaded, classes: ['a', 'b', 'c'], imageSize: 64 });
    for (let i = 0; i < r.before.length; i++) {
      expect(r.before[i].probabilities).toHaveLength(3);
      for (let k = 0; k < 3; k++) expect(Math.abs(r.after[i].probabilities[k] - r.before[i].probabilities[k])).toBeLessThan(1e-5);
    }
    // ONNX Runtime (Node, CPU) on the exported model, NHWC input in [-1, 1]: the page's logits and probabilities.
    const t0 = Date.now();
    const ran = await runOnnx(Buffer.from(r.onnx, 'base64'), pix, 64);
    expect(ran).toMatchObject({ input: 'input', output: 'logits', dims: [3, 3] });
    const dl = maxAbsDiff(ran.rows, r.onnxOut.map((o) => o.logits));
    const probs = ran.rows.map((row) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    });
    const dp = maxAbsDiff(probs, r.onnxOut.map((o) => o.probabilities));
    timings['onnx (3-class, Node side)'] = (Date.now() - t0) / 1000;
    console.log(`[web e2e] ONNX Runtime vs page (3 classes, 64x64): logits max |diff| ${dl.toExponential(2)}, probabilities ${dp.toExponential(2)}; ${(r.onnx.length * 0.75 / 2 ** 20).toFixed(1)} MB (softmax/NCHW/folded variant ${(r.softmaxLen / 2 ** 20).toFixed(1)} MB)`);
    expect(dl).toBeLessThan(1e-3);
    expect(dp).toBeLessThan(1e-3);
    expect(r.softmaxLen).toBeGreaterThan(1e6);
    // TFLite from the page: LiteRT.js (Node) gives the page's logits (float); our importer reads both files;
    // the int8 file runs on the raw pixels.
    const f32 = Buffer.from(r.tflite, 'base64');
    const i8 = Buffer.from(r.tfliteInt8, 'base64');
    expect(importTflite(f32, 'page.tflite').info).toMatchObject({ inputSize: 64, classes: 3, inputQuantization: null });
    expect(importTflite(i8, 'page-int8.tflite').info).toMatchObject({ inputSize: 64, classes: 3, inputQuantization: { type: 'UINT8', zeroPoint: 128 } });
    const fm = await liteRtModel(f32);
    const qm = await liteRtModel(i8);
    const tfl: number[][] = [];
    for (const p of pix) {
      tfl.push(Array.from(await fm.run(Float32Array.from(p, (v) => v / 127.5 - 1), [1, 64, 64, 3])));
      const q = await qm.run(new Uint8Array(p), [1, 64, 64, 3]);
      expect(q).toBeInstanceOf(Uint8Array);
      expect(q).toHaveLength(3);
    }
    fm.delete();
    qm.delete();
    const dt = maxAbsDiff(tfl, r.onnxOut.map((o) => o.logits));
    console.log(`[web e2e] LiteRT vs page (3 classes, 64x64): logits max |diff| ${dt.toExponential(2)}; TFLite ${(f32.length / 2 ** 20).toFixed(1)} MB, int8 ${(i8.length / 2 ** 20).toFixed(1)} MB`);
    expect(dt).toBeLessThan(1e-3);
    console.log(`[web e2e] 3-class API: losses ${r.losses.map((l) => l.toFixed(3)).join(' ')}, val ${JSON.stringify(r.val)}, accuracy ${r.ev.accuracy.toFixed(2)}, saved ${(r.bytes / 2 ** 20).toFixed(1)} MB`);
    await page.close();
  });
});

describe('web library build (dist/index.js) in a plain page', () => {
  it('a page importing /lib/index.js (no bundler) loads the model in its worker and classifies cat.bmp', async () => {
    need();
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/lib-test.html`);
    await page.waitForFunction(() => (globalThis as unknown as { libResult?: unknown }).libResult !== undefined, undefined, { timeout: 90_000 });
    const r = await page.evaluate(() => (globalThis as unknown as { libResult: { top?: { label: string }[]; error?: string } }).libResult);
    expect(r.error).toBeUndefined();
    expect(r.top![0].label).toBe('Egyptian cat');
    await page.close();
  });
});

describe('web demo: what the user is told when something goes wrong', () => {
  it('a browser without WebGPU (navigator.gpu deleted before load) gets a message saying which browsers/flags work', async () => {
    need();
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      delete (Object.getPrototypeOf((globalThis as unknown as PageGlobals).navigator) as { gpu?: unknown }).gpu;
    });
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#banner:not([hidden])');
    const text = (await page.textContent('#banner-text'))!;
    expect(text).toMatch(/WebGPU is not available in this browser/);
    expect(text).toMatch(/Chrome or Edge 113\+/);
    expect(text).toMatch(/--enable-unsafe-webgpu/);
    expect(await page.textContent('#gpu-status')).toBe('WebGPU unavailable');
    await shot(page, 'no-webgpu');
    await page.close();
  });

  it('Chromium started without the --enable-unsafe-webgpu flag, the page says WebGPU is unavailable (no hang, no blank page)', async () => {
    need();
    const plain = await launchChromium([], { webgpu: false });
    try {
      const page = await plain.context.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForSelector('#banner:not([hidden])', { timeout: 60_000 });
      const text = (await page.textContent('#banner-text'))!;
      console.log(`[web e2e] without --enable-unsafe-webgpu: ${text.slice(0, 160)}`);
      expect(text).toMatch(/WebGPU (is not available|is available but found no GPU adapter)/);
      expect(text).toMatch(/enable-unsafe-webgpu/);
    } finally {
      await plain.close();
    }
  });

  it('corrupt or wrong weights files are reported by name, and are not cached', async () => {
    need();
    for (const [url, want] of [
      ['/corrupt/truncated.tflite', /Could not load the model: cannot load weights.*truncated\.tflite/],
      ['/corrupt/not-weights.safetensors', /not-weights\.safetensors.*not a valid \.safetensors file/],
      ['/weights/no-such-file.tflite', /HTTP 404/],
    ] as const) {
      const page = await browser.context.newPage();
      await page.goto(`${server.url}/?weights=${encodeURIComponent(url)}`);
      await page.waitForSelector('#banner:not([hidden])', { timeout: 60_000 });
      expect(await page.textContent('#banner-text')).toMatch(want);
      expect(await page.textContent('#load-status')).toBe('not loaded');
      expect(await page.isVisible('#recover')).toBe(false); // not a GPU problem: no "Restart the GPU" button
      if (url.includes('truncated')) await shot(page, 'corrupt-weights');
      await page.close();
    }
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/bench.html`); // same origin, no model load
    const cached = await page.evaluate(async () => (await (await (globalThis as unknown as PageGlobals).caches.open('mnv2-weights-v1')).keys()).map((r) => new URL(r.url).pathname));
    expect(cached.filter((c) => c.startsWith('/corrupt/') || c.includes('no-such-file'))).toEqual([]);
    await page.close();
  });

  it('device loss: the page says so, calls fail with a clear message, "Restart the GPU" recovers with the same results', async () => {
    need();
    const page = await openDemo();
    await page.setInputFiles('#classify-file', CAT);
    await page.waitForSelector('#classify-results .result');
    const before = (await state(page)).lastClassify![0].logits!;
    await page.evaluate(() => (globalThis as unknown as { mnv2demo: { client: { worker_: { debugLoseDevice(): Promise<void> } } } }).mnv2demo.client.worker_.debugLoseDevice());
    await page.waitForSelector('#recover:not([hidden])');
    expect(await page.isVisible('#recover')).toBe(true);
    expect(await page.textContent('#banner-text')).toMatch(/The GPU device was lost \(destroyed/);
    expect(await page.textContent('#gpu-status')).toBe('GPU device lost');
    await shot(page, 'device-lost');
    await page.click('#banner-close');
    await page.setInputFiles('#classify-file', CAT);
    await page.waitForSelector('#banner:not([hidden])');
    expect(await page.textContent('#banner-text')).toMatch(/Classification failed: the GPU device was lost .*recover/);
    await page.click('#recover');
    await page.waitForSelector('#banner', { state: 'hidden' });
    expect(await page.textContent('#gpu-status')).toMatch(/restarted/);
    await page.setInputFiles('#classify-file', CAT);
    await page.waitForFunction((n) => (globalThis as unknown as { mnv2demo: { lastClassify: unknown[] | null } }).mnv2demo.lastClassify !== null && (globalThis as unknown as PageGlobals).document.querySelectorAll('#classify-results .result').length === n, 1);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('#classify-results .label')?.textContent === 'Egyptian cat');
    const after = (await state(page)).lastClassify![0].logits!;
    expect(Math.max(...after.map((v, i) => Math.abs(v - before[i])))).toBeLessThan(1e-5);

    // A loss while training: the fit call rejects with the recover advice; recover() restores the trainer.
    const during = await page.evaluate(async () => {
      type T = { addImages(c: number, ims: Blob[]): Promise<unknown>; fit(o: object): Promise<unknown>; classify(ims: Blob[]): Promise<unknown> };
      const d = (globalThis as unknown as { mnv2demo: { client: { createTrainer(o: object): Promise<T>; recover(): Promise<unknown>; worker_: { debugLoseDevice(): Promise<void> } } } }).mnv2demo;
      const blob = await (await fetch('/datasets/coral_test_images/cat.bmp')).blob();
      const t = await d.client.createTrainer({ base: './weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite', classes: ['a', 'b'], imageSize: 64 });
      await t.addImages(0, [blob]);
      await t.addImages(1, [blob]);
      const fitting = t.fit({ epochs: 50, batchSize: 2 }).then(
        () => 'finished',
        (e: Error) => e.message,
      );
      await d.client.worker_.debugLoseDevice();
      const message = await fitting;
      await d.client.recover();
      await t.fit({ epochs: 1, batchSize: 2 });
      return { message, after: ((await t.classify([blob])) as { top: unknown[] }[])[0].top.length };
    });
    console.log(`[web e2e] loss during training: ${during.message}`);
    expect(during.message).toMatch(/the GPU device was lost .*recover\(\)/);
    expect(during.after).toBe(2);
    await page.click('#recover');
    await page.waitForSelector('#banner', { state: 'hidden' });

    // Errors thrown in the worker reach the caller with their message; an undecodable file is named.
    const thrown = await page.evaluate(async () => {
      const d = (globalThis as unknown as { mnv2demo: { client: { call<T>(f: () => Promise<T>): Promise<T>; worker_: { debugThrow(m: string): Promise<never> } } } }).mnv2demo;
      try {
        await d.client.call(() => d.client.worker_.debugThrow('thrown inside the worker'));
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(thrown).toBe('thrown inside the worker');
    await page.setInputFiles('#classify-file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a JPEG') });
    await page.waitForSelector('#banner:not([hidden])');
    expect(await page.textContent('#banner-text')).toMatch(/Classification failed: cannot decode image 1 \(image\/jpeg\)/);

    // A crash of the worker itself (an uncaught error in its event loop): the page says so, later calls fail fast.
    await page.click('#banner-close');
    await page.evaluate(() => (globalThis as unknown as { mnv2demo: { client: { worker_: { debugCrash(m: string): Promise<void> } } } }).mnv2demo.client.worker_.debugCrash('simulated worker failure'));
    await page.waitForSelector('#banner:not([hidden])');
    expect(await page.textContent('#banner-text')).toMatch(/The engine worker crashed: .*simulated worker failure.*Reload the page/);
    expect(await page.textContent('#gpu-status')).toBe('engine stopped');
    await page.click('#banner-close');
    await page.setInputFiles('#classify-file', CAT);
    await page.waitForSelector('#banner:not([hidden])');
    expect(await page.textContent('#banner-text')).toMatch(/Classification failed: The engine worker crashed/);
    await page.close();
  });
});

describe('web benchmark page', () => {
  it('runs the in-page kernel benchmark (96x96 layer shapes) and shows the table', async () => {
    need();
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/bench.html?autorun&size=96`);
    await page.waitForFunction(() => {
      const b = (globalThis as unknown as { mnv2bench?: { done: boolean; error: string | null } }).mnv2bench;
      return !!b && (b.done || b.error !== null);
    }, undefined, { timeout: 120_000 });
    const b = await page.evaluate(() => JSON.parse(JSON.stringify((globalThis as unknown as { mnv2bench: unknown }).mnv2bench)) as { rows: { op: string; ms: number; gflops: number }[]; error: string | null });
    expect(b.error).toBeNull();
    expect(b.rows.map((r) => r.op)).toContain('MobileNetV2 inference');
    for (const r of b.rows) expect(r.ms).toBeGreaterThan(0);
    expect(await page.locator('#bench-table tbody tr').count()).toBe(b.rows.length);
    console.log(`[web e2e] bench: ${b.rows.map((r) => `${r.op} ${r.ms.toFixed(2)} ms ${r.gflops.toFixed(1)} GFLOP/s`).join('; ')}`);
    await shot(page, 'bench');
    await page.close();
  });
});
