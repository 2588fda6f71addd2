// The figures of bench/results/export-tflite-lavapipe.md for a trained run: its float and int8 TFLite
// exports (uint8 in/out) run by LiteRT.js against our engine on the run's validation images.
//   npx turbo run build && npx tsx bench/tflite-agreement.mts RUN-DIR FLOAT.tflite INT8.tflite
// (export them first: mnv2 export --tflite FLOAT.tflite RUN-DIR; … --int8 --input-type uint8 --output-type uint8)
import { readFileSync } from 'node:fs';
import { importTflite, prepareImages, type FitImage } from '@mnv2/core';
import { createNodeEngine } from '../packages/cli/src/node-gpu.js';
import { openDataset } from '../packages/cli/src/data/open-dataset.js';
import { buildRunModel, readRun } from '../packages/cli/src/run/load-run.js';
import { liteRtModel } from '../tests/helpers/litert.js';

const [runDir, floatFile, int8File] = process.argv.slice(2);
if (!runDir || !floatFile || !int8File) {
  console.error('usage: tsx bench/tflite-agreement.mts RUN-DIR FLOAT.tflite INT8.tflite');
  process.exit(2);
}
const { engine: e } = await createNodeEngine();
const run = await readRun(runDir, 'bench');
const cfg = JSON.parse(readFileSync(`${run.dir}/config.json`, 'utf8')) as { dataDir: string; valSplit: number; seed: number };
const ds = await openDataset(cfg.dataDir, { validationSplit: cfg.valSplit, seed: cfg.seed });
if (!ds.validation) throw new Error('the run has no validation split');
const n = ds.validationCount;
const imgs = (await ds.validation.load(Array.from({ length: n }, (_, i) => i))) as FitImage[];
const model = buildRunModel(e, run);
const ours = (await model.predict(imgs)).map((r) => r[0]);
const S = run.imageSize;
const f = await liteRtModel(readFileSync(floatFile));
const q = await liteRtModel(readFileSync(int8File));
const oq = importTflite(readFileSync(int8File), int8File).info.outputQuantization;
if (!oq || oq.type !== 'UINT8') throw new Error(`${int8File}: expected a uint8 output (export with --output-type uint8)`);
let worst = 0;
let largest = 0;
let agree = 0;
let accF = 0;
let accQ = 0;
let err = 0;
for (let i = 0; i < n; i++) {
  const x = prepareImages(e, [imgs[i]], { size: S });
  const input = await x.read();
  x.dispose();
  const lf = (await f.run(input, [1, S, S, 3]))[0];
  const u8 = Uint8Array.from(input, (v) => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))));
  const lq = ((await q.run(u8, [1, S, S, 3]))[0] - oq.zeroPoint) * oq.scale;
  worst = Math.max(worst, Math.abs(lf - ours[i]));
  largest = Math.max(largest, Math.abs(ours[i]));
  agree += lq > 0 === ours[i] > 0 ? 1 : 0;
  const label = ds.validation.labels[i];
  accF += (ours[i] > 0 ? 1 : 0) === label ? 1 : 0;
  accQ += (lq > 0 ? 1 : 0) === label ? 1 : 0;
  err += Math.abs(lq - ours[i]);
}
console.log(`run ${run.dir}: ${n} validation images at ${S}x${S}`);
console.log(`float32 TFLite vs ours: max |Δlogit| ${worst.toExponential(2)} = ${(worst / largest).toExponential(2)} of the largest logit`);
console.log(`int8 TFLite vs ours: class agreement ${agree}/${n} (${((100 * agree) / n).toFixed(1)} %), mean |Δlogit| ${(err / n).toFixed(3)}; accuracy float ${accF}/${n}, int8 ${accQ}/${n}`);
model.dispose();
f.delete();
q.delete();
e.destroy();
process.exit(0);
