// The ImageNet-sample rows of bench/results/export-tflite-lavapipe.md: top-1 of our float engine and
// of int8 TFLite files (uint8 in/out, run by LiteRT.js) on the 125 images of
// ../shared/datasets/imagenet_sample, and how often int8 and float agree.
//   npx tsx bench/tflite-imagenet.mts make-weights OUT.safetensors
//     the TF-Slim float backbone (../shared/weights/tfslim_npy_mobilenet_v2_1.0_224, whose 1001-way
//     head is missing) + Keras' 1000-way `predictions` layer (dequantized from Keras' int8 file), as
//     one classifier 'mnv2 export' reads;
//   npx tsx bench/tflite-imagenet.mts WEIGHTS INT8.tflite [INT8.tflite ...]
//     float top-1 of WEIGHTS on our engine once, then each int8 file's top-1 and agreement with it.
// (export the int8 files first: mnv2 export --tflite Q.tflite WEIGHTS --int8 --input-type uint8 --output-type uint8 --calibration DIR ...)
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClassifier, importTfSlim, importTflite, prepareImages, serializeSafetensors, type WeightMap } from '@mnv2/core';
import { createNodeEngine } from '../packages/cli/src/node-gpu.js';
import { decodeImage } from '../packages/cli/src/data/decode.js';
import { loadClassifierWeights } from '../packages/cli/src/weights/load.js';
import { liteRtModel } from '../tests/helpers/litert.js';

const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));
const IMAGENET = join(SHARED, 'datasets/imagenet_sample');
const argmax = (a: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
};

const [first, ...rest] = process.argv.slice(2);
if (first === 'make-weights') {
  const out = rest[0];
  if (!out) throw new Error('usage: tsx bench/tflite-imagenet.mts make-weights OUT.safetensors');
  const dir = join(SHARED, 'weights/tfslim_npy_mobilenet_v2_1.0_224');
  const files: Record<string, Uint8Array> = {};
  for (const f of readdirSync(dir)) if (f.endsWith('.npy')) files[f] = readFileSync(join(dir, f));
  const w: WeightMap = new Map(importTfSlim(files).weights);
  const keras = importTflite(readFileSync(join(SHARED, 'weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite')), 'keras').weights;
  for (const n of ['predictions/kernel', 'predictions/bias']) w.set(n, keras.get(n)!);
  for (const n of [...w.keys()]) if (n.startsWith('Logits')) w.delete(n);
  writeFileSync(`${out}.tmp`, serializeSafetensors(w, { preprocess: 'tf', padding: 'same', input_size: '224', epsilon: '0.001' }));
  renameSync(`${out}.tmp`, out);
  console.log(`wrote ${out}: TF-Slim float backbone + Keras predictions (${w.size} tensors)`);
  process.exit(0);
}
if (!first || !rest.length) {
  console.error('usage: tsx bench/tflite-imagenet.mts WEIGHTS INT8.tflite [INT8.tflite ...]  |  make-weights OUT.safetensors');
  process.exit(2);
}
const { engine: e } = await createNodeEngine();
const w = await loadClassifierWeights(first);
const net = buildClassifier(e, w.weights, w.info);
const S = w.info.inputSize;
const rows = readFileSync(join(IMAGENET, 'INDEX.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
const inputs: Uint8Array[] = [];
const floatTop: number[] = [];
const floatLogits: Float32Array[] = [];
const labels = rows.map(([cls]) => Number(cls));
for (const [, , name] of rows) {
  const x = prepareImages(e, [await decodeImage(join(IMAGENET, name))], { size: S });
  const input = await x.read();
  const y = net.forward(e, x, { training: false });
  const logits = await y.read();
  floatLogits.push(logits);
  floatTop.push(argmax(logits));
  y.dispose();
  x.dispose();
  inputs.push(Uint8Array.from(input, (v) => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)))));
}
const n = rows.length;
const floatOk = floatTop.filter((t, i) => t === labels[i]).length;
console.log(`${first}: ${n} ImageNet-sample images at ${S}x${S}; float top-1 (ours) ${floatOk}/${n}`);
for (const file of rest) {
  const q = await liteRtModel(readFileSync(file));
  const oq = importTflite(readFileSync(file), file).info.outputQuantization;
  if (!oq) throw new Error(`${file}: not a quantized model`);
  let ok = 0;
  let agree = 0;
  let rel = 0;
  for (let i = 0; i < n; i++) {
    const out = await q.run(inputs[i], [1, S, S, 3]);
    const t = argmax(out);
    ok += t === labels[i] ? 1 : 0;
    agree += t === floatTop[i] ? 1 : 0;
    // ‖int8 logits − float logits‖ / ‖float logits‖ (dequantized): a finer measure than top-1 counts.
    let d = 0;
    let f = 0;
    for (let k = 0; k < out.length; k++) {
      d += ((out[k] - oq.zeroPoint) * oq.scale - floatLogits[i][k]) ** 2;
      f += floatLogits[i][k] ** 2;
    }
    rel += Math.sqrt(d / f);
  }
  q.delete();
  console.log(`${file}: int8 top-1 ${ok}/${n} (${ok - floatOk >= 0 ? '+' : ''}${((100 * (ok - floatOk)) / n).toFixed(1)} pts), agreement with float ${agree}/${n}, mean relative logit error ${(rel / n).toFixed(4)}`);
}
e.destroy();
process.exit(0);
