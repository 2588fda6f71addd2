// Issue 4's parity matrix: for 20 real images (the first 20 of ../shared/datasets/imagenet_sample,
// decoded once, resized + preprocessed to [-1, 1] by our GPU path), our MobileNetV2Net's outputs equal
// ONNX Runtime's (CPU provider) on the graph our ONNX writer exports from the same float32 weights, to
// 1e-3 relative, for alpha 1.0 and 0.35, at 224 and 160, with the 1000-class top (logits) and without
// it (the [N,h,w,1280] feature map; the ONNX graph gives NCHW, transposed here to our NHWC).
// Weights: He-scaled random kernels and BatchNorm with non-trivial statistics (random gamma, beta, moving
// mean and variance), seeded per weight name so every configuration of one alpha shares them; Glorot head
// kernel and a random head bias. Each test also checks that its outputs vary between images by far more
// than the tolerance, so the comparison is not one of input-independent constants.
import { describe, it, beforeAll, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { MobileNetV2Net, encodeOnnxModel, mobileNetV2Onnx, prepareImages, type Engine, type RgbImage } from '@mnv2/core';
import { decodeImage, IMAGE_EXTENSIONS } from '../../packages/cli/src/data/decode.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose, maxAbs } from '../helpers/allclose.js';

const DIR = fileURLToPath(new URL('../../../shared/datasets/imagenet_sample/', import.meta.url));
const IMAGES = 20;
const BATCH = 10;
const CLASSES = 1000;
const RTOL = 1e-3;

/** Seed from a weight name (FNV-1a), so a weight's values do not depend on which net asks for it. */
function nameSeed(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Kernels: He-uniform (variance gain/fan_in; gain 2 before ReLU6, 1 for the linear projections), so the
 * image still reaches the output through 17 blocks (Glorot lets it fade until the outputs are nearly the
 * same constant for every image). BatchNorm: non-trivial gamma, beta, moving mean and variance.
 */
function randomWeights(name: string, shape: number[]): Float32Array {
  const n = shape.reduce((x, y) => x * y, 1);
  const s = nameSeed(name);
  if (name.endsWith('/gamma')) return f32(randArray(n, s, 0.5, 1.5));
  if (name.endsWith('/beta')) return f32(randArray(n, s, -0.2, 0.2));
  if (name.endsWith('/moving_mean')) return f32(randArray(n, s, -0.2, 0.2));
  if (name.endsWith('/moving_variance')) return f32(randArray(n, s, 0.5, 2));
  // conv HWIO [3,3,cin,cout], depthwise [3,3,C], pointwise [cin,cout]
  const fanIn = shape.length === 4 ? 9 * shape[2] : shape.length === 3 ? 9 : shape[0];
  const gain = name.includes('_project/') ? 1 : 2;
  const limit = Math.sqrt((3 * gain) / fanIn);
  return f32(randArray(n, s, -limit, limit));
}

/** ORT's NCHW feature map → our NHWC. */
function nchwToNhwc(a: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let b = 0; b < n; b++)
    for (let k = 0; k < c; k++) {
      const src = (b * c + k) * h * w;
      for (let p = 0; p < h * w; p++) out[(b * h * w + p) * c + k] = a[src + p];
    }
  return out;
}

/**
 * The tolerance as one number: max |a−b| / (|b| + max|b|), which is <= rtol exactly when
 * |a−b| <= atol + rtol·|b| with atol = rtol·max|b| (what expectClose checks below).
 */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const scale = maxAbs(b);
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + scale));
  return m;
}

/** max |a−b| / max|b|. */
function maxDiffOverScale(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / maxAbs(b);
}

describe(`${GPU} ONNX export parity matrix (20 real images, alpha × size × top, ONNX Runtime CPU)`, () => {
  let e: Engine;
  let images: RgbImage[];
  const inputs = new Map<number, Float32Array>(); // size → [20, S, S, 3] preprocessed on the GPU

  beforeAll(async () => {
    e = await gpuEngine();
    const files = readdirSync(DIR)
      .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()))
      .sort()
      .slice(0, IMAGES);
    expect(files.length).toBe(IMAGES);
    images = await Promise.all(files.map((f) => decodeImage(join(DIR, f))));
    for (const size of [224, 160]) {
      const x = prepareImages(e, images, { size });
      inputs.set(size, await x.read());
      x.dispose();
    }
  });

  for (const alpha of [1.0, 0.35])
    for (const size of [224, 160])
      for (const top of [true, false]) {
        it(`alpha ${alpha}, ${size}x${size}, ${top ? 'with top (logits)' : 'without top (features)'}`, async () => {
          const net = new MobileNetV2Net(e, {
            alpha,
            inputSize: size,
            head: top ? { classes: CLASSES, pooling: 'avg', dropout: 0 } : undefined,
            weights: randomWeights,
            seed: 11,
          });
          try {
            if (top) {
              const bias = net.head!.params().find((p) => p.name === 'predictions/bias')!;
              e.write(bias.value, f32(randArray(CLASSES, 7, -0.1, 0.1)));
            }
            const weights = new Map<string, Float32Array>();
            for (const p of net.params()) weights.set(p.name, await p.value.read());

            const input = inputs.get(size)!;
            const per = size * size * 3;
            const ours: Float32Array[] = [];
            for (let i = 0; i < IMAGES; i += BATCH) {
              const x = e.upload(input.subarray(i * per, (i + BATCH) * per), [BATCH, size, size, 3]);
              const y = e.tidy(() => net.forward(e, x, { training: false }));
              ours.push(await y.read());
              y.dispose();
              x.dispose();
            }
            const outShape = top ? [CLASSES] : [Math.ceil(size / 32), Math.ceil(size / 32), net.arch.lastChannels];
            const perOut = outShape.reduce((a, b) => a * b, 1);
            const want = new Float32Array(IMAGES * perOut);
            ours.forEach((o, k) => want.set(o, k * BATCH * perOut));
            expect(ours.every((o) => o.length === BATCH * perOut)).toBe(true);

            const graph = mobileNetV2Onnx({
              alpha,
              inputSize: size,
              batch: 'N',
              weight: (name) => weights.get(name)!,
              head: top ? { classes: CLASSES } : null,
              inputLayout: 'nhwc',
            });
            const session = await ort.InferenceSession.create(encodeOnnxModel(graph), { executionProviders: ['cpu'] });
            const theirs = new Float32Array(IMAGES * perOut);
            try {
              for (let i = 0; i < IMAGES; i += BATCH) {
                const batch = input.slice(i * per, (i + BATCH) * per);
                const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', batch, [BATCH, size, size, 3]) });
                const t = out[session.outputNames[0]];
                let data = t.data as Float32Array;
                if (top) expect(t.dims).toEqual([BATCH, CLASSES]);
                else {
                  const [h, w, c] = outShape;
                  expect(t.dims).toEqual([BATCH, c, h, w]);
                  data = nchwToNhwc(data, BATCH, c, h, w);
                }
                theirs.set(data, i * perOut);
              }
            } finally {
              await session.release();
            }

            const scale = maxAbs(want);
            // A degenerate network (all zero after ReLU6, or NaN) would make the comparison vacuous.
            expect(scale).toBeGreaterThan(1e-2);
            expect(Number.isFinite(scale)).toBe(true);
            const rel = maxRelDiff(theirs, want);
            console.log(`[onnx-parity] alpha ${alpha} ${size} ${top ? 'top' : 'features'}: max|ours| ${scale.toPrecision(4)}, max |Δ|/(|ours|+max|ours|) ${rel.toExponential(2)}, max |Δ|/max|ours| ${maxDiffOverScale(theirs, want).toExponential(2)}`);
            expect(rel).toBeLessThanOrEqual(RTOL);
            expectClose(theirs, want, { rtol: RTOL, atol: RTOL * scale, what: top ? 'logits' : 'features' });
            // The outputs must depend on the image: per output element, the spread over the 20 images,
            // at its largest, is far above the tolerance (else a constant would pass).
            let spread = 0;
            for (let j = 0; j < perOut; j++) {
              let lo = Infinity;
              let hi = -Infinity;
              for (let k = 0; k < IMAGES; k++) {
                const v = want[k * perOut + j];
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
              }
              spread = Math.max(spread, hi - lo);
            }
            console.log(`[onnx-parity]   spread over images ${spread.toPrecision(4)} (atol ${(RTOL * scale).toPrecision(3)})`);
            expect(spread).toBeGreaterThan(20 * RTOL * scale);
          } finally {
            net.dispose();
          }
        });
      }
});
