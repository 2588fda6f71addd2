// Parser fuzzing (seeded, CPU only): a few hundred mutations of a valid file per format — byte
// flips, truncations, huge length fields, spliced chunks — must each either parse or throw an Error
// that names the file. Never a raw TypeError/ReferenceError (a crash users see as a stack trace),
// never a hang (each format's whole run is timed), never a non-Error throw.
import { describe, it, beforeAll, expect } from 'vitest';
import {
  serializeNpy,
  parseNpy,
  serializeSafetensors,
  parseSafetensors,
  importTflite,
  importOnnx,
  encodeOnnxModel,
  mobileNetV2Onnx,
  importKerasH5,
  type WeightMap,
} from '@mnv2/core';
import { syntheticMobileNetV2 } from './tflite-builder.js';
import { kerasFixture, randomKerasWeights } from './h5-fixture.js';
import { rng } from '../helpers/random.js';

const NAME = 'fuzzed.bin';

/** One seeded mutation of `src`. */
function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const kind = pick(5);
  if (kind === 0) return src.slice(0, pick(src.length)); // truncation
  const out = src.slice();
  if (kind === 1) {
    for (let k = 0, n = 1 + pick(8); k < n; k++) out[pick(out.length)] = pick(256); // byte flips
  } else if (kind === 2) {
    const at = pick(Math.max(1, out.length - 4)); // a huge little-endian length/offset field
    out.set([0xff, 0xff, 0xff, 0x7f], at);
  } else if (kind === 3) {
    const head = pick(Math.min(out.length, 4096)); // the header region, where the structure lives
    for (let k = 0; k < 4; k++) out[head + k < out.length ? head + k : 0] ^= 1 << pick(8);
  } else {
    const a = pick(out.length);
    const b = pick(out.length);
    const len = Math.min(pick(256), out.length - Math.max(a, b)); // spliced chunk
    out.copyWithin(a, b, b + len);
  }
  return out;
}

interface Tally {
  parsed: number;
  refused: number;
}

async function fuzz(label: string, valid: Uint8Array, count: number, seed: number, parse: (b: Uint8Array) => unknown | Promise<unknown>): Promise<Tally> {
  const r = rng(seed);
  const tally: Tally = { parsed: 0, refused: 0 };
  await parse(valid); // the unmutated file parses
  for (let i = 0; i < count; i++) {
    const bytes = mutate(valid, r);
    try {
      await parse(bytes);
      tally.parsed++;
    } catch (e) {
      const what = `${label} mutation ${i} (seed ${seed})`;
      expect(e, `${what}: threw a non-Error`).toBeInstanceOf(Error);
      const err = e as Error;
      expect(['TypeError', 'ReferenceError', 'SyntaxError'], `${what}: raw ${err.name}: ${err.message}`).not.toContain(err.name);
      expect(err.message, `${what}: the message names the file`).toContain(NAME);
      tally.refused++;
    }
  }
  console.log(`[fuzz] ${label}: ${count} mutations, ${tally.parsed} parsed, ${tally.refused} refused with a message`);
  return tally;
}

describe('weight-file parsers under fuzzing', () => {
  let weights: WeightMap;
  beforeAll(() => {
    weights = new Map([
      ['a/kernel', { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) }],
      ['b/bias', { shape: [5], data: Float32Array.from({ length: 5 }, (_, i) => -i) }],
    ]);
  });

  it('npy', async () => {
    const t = await fuzz('npy', serializeNpy([4, 6], Float32Array.from({ length: 24 }, (_, i) => i)), 400, 1, (b) => parseNpy(b, NAME));
    expect(t.refused).toBeGreaterThan(100);
  });

  it('safetensors (our checkpoints and model files)', async () => {
    const t = await fuzz('safetensors', serializeSafetensors(weights, { format: 'mnv2', epoch: '3' }), 400, 2, (b) => parseSafetensors(b, NAME));
    expect(t.refused).toBeGreaterThan(100);
  });

  it('TFLite', async () => {
    const valid = syntheticMobileNetV2(0.35, 10);
    const t = await fuzz('tflite', valid, 300, 3, (b) => importTflite(b, NAME));
    expect(t.refused).toBeGreaterThan(50);
  }, 60_000);

  it('ONNX (our own export)', async () => {
    const w = randomKerasWeights(0.35, true, 10, 4);
    const g = mobileNetV2Onnx({ alpha: 0.35, inputSize: 96, batch: 1, weight: (n) => w.get(n)!.data, head: { classes: 10, denseName: 'predictions' } });
    const valid = encodeOnnxModel(g);
    const t = await fuzz('onnx', valid, 300, 5, (b) => importOnnx(b, NAME));
    expect(t.refused).toBeGreaterThan(50);
  }, 60_000);

  it('Keras .h5', async () => {
    const fx = await kerasFixture({ alpha: 0.35, size: 96, includeTop: false, seed: 6 });
    const t = await fuzz('h5', fx.bytes, 60, 7, (b) => importKerasH5(b, { file: NAME }));
    expect(t.refused).toBeGreaterThan(10);
  }, 60_000);
});
