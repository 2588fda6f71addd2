// Keras .h5 weights (the published MobileNetV2 files' layout, written by tests/io/h5-fixture.ts):
// read back bit for bit in both layouts and both naming schemes, and clear errors naming the file and
// the tensor for wrong shapes, missing datasets/tensors, truncated and non-HDF5 bytes.
import { describe, it, expect, beforeAll } from 'vitest';
import h5wasm from 'h5wasm';
import {
  expectedWeights,
  hdf5Problem,
  importKerasH5,
  KerasH5Error,
  kerasWeightsFileName,
  parseKerasWeightsFileName,
  readKerasH5,
  weightSource,
  type KerasH5Import,
  type WeightMap,
} from '@mnv2/core';
import { kerasFixture, kerasLayerSpecs, legacyName, randomKerasWeights, writeKerasH5, type KerasFixture } from './h5-fixture.js';

/** Bit-exact comparison of every tensor (names, order, shapes, values). */
function expectSameWeights(got: WeightMap, want: WeightMap) {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, t] of want) {
    const g = got.get(name)!;
    expect(g.shape, name).toEqual(t.shape);
    expect(Buffer.compare(Buffer.from(g.data.buffer, g.data.byteOffset, g.data.byteLength), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), name).toBe(0);
  }
}

async function expectH5Error(p: Promise<unknown>, ...parts: (string | RegExp)[]): Promise<KerasH5Error> {
  const e = await p.then(
    () => expect.fail('expected a KerasH5Error'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KerasH5Error);
  for (const s of parts) {
    if (typeof s === 'string') expect((e as Error).message).toContain(s);
    else expect((e as Error).message).toMatch(s);
  }
  return e as KerasH5Error;
}

describe('Keras .h5 weights', () => {
  let base: KerasFixture; // alpha 0.35, 96, no top, Keras names, weights-only layout

  beforeAll(async () => {
    base = await kerasFixture({ alpha: 0.35, size: 96, includeTop: false, seed: 7 });
  });

  it('file names follow keras.applications (float(alpha) as Python prints it)', () => {
    expect(kerasWeightsFileName(1, 224, true)).toBe('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5');
    expect(kerasWeightsFileName(0.5, 160, false)).toBe('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_160_no_top.h5');
    expect(kerasWeightsFileName(0.35, 96, false)).toBe('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5');
    expect(parseKerasWeightsFileName('/x/y/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.3_224.h5')).toEqual({ alpha: 1.3, size: 224, includeTop: true });
    expect(parseKerasWeightsFileName('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.75_128_no_top.h5')).toEqual({ alpha: 0.75, size: 128, includeTop: false });
    expect(parseKerasWeightsFileName('model.h5')).toBeNull();
  });

  it('the fixture has Keras\' layout: root attrs, every layer in layer_names, weight_names, nested datasets', async () => {
    const c = await readKerasH5(base.bytes, 'fixture.h5');
    expect(c.layout).toBe('weights');
    expect(c.kerasVersion).toBe('2.1.6');
    expect(c.backend).toBe('tensorflow');
    expect(c.layers.length).toBe(154); // the no-top base, InputLayer included, as Keras counts
    expect(c.layers[0]).toEqual({ name: 'input_layer', weights: [] });
    expect(c.layers[1].name).toBe('Conv1');
    expect(c.layers[1].weights.map((w) => [w.name, w.path, w.shape])).toEqual([['Conv1/kernel:0', 'Conv1/Conv1/kernel:0', [3, 3, 3, 16]]]);
    expect(c.layers[2].weights.map((w) => w.name)).toEqual(['bn_Conv1/gamma:0', 'bn_Conv1/beta:0', 'bn_Conv1/moving_mean:0', 'bn_Conv1/moving_variance:0']);
    expect(c.layers.filter((l) => l.weights.length > 0).length).toBe(104);
  });

  it('reads every tensor back bit for bit, keyed by Keras names with Keras shapes (weights-only file)', async () => {
    const r = await importKerasH5(base.bytes, { file: base.fileName });
    expect(r.alpha).toBe(0.35);
    expect(r.includeTop).toBe(false);
    expect(r.classes).toBeUndefined();
    expect(r.inputSize).toBe(96); // from the file name
    expect(r.layout).toBe('weights');
    expect(r.matchedBy).toBe('name');
    expect(r.notes).toEqual([]);
    expect(r.weights.size).toBe(260);
    expect(r.weights.get('Conv1/kernel')!.shape).toEqual([3, 3, 3, 16]);
    expect(r.weights.get('block_1_depthwise/depthwise_kernel')!.shape).toEqual([3, 3, 48, 1]);
    expect(r.weights.get('bn_Conv1/moving_variance')!.shape).toEqual([16]);
    expect(r.sourceNames.get('block_16_project/kernel')).toBe('block_16_project/block_16_project/kernel:0');
    expectSameWeights(r.weights, base.weights);
    expect([...r.weights.keys()]).toEqual(expectedWeights(0.35, 96, false).map((w) => w.name));
    // Feeds the network strictly.
    expect(() => weightSource(r.weights, { strict: true, alpha: 0.35 })).not.toThrow();
  });

  it('full-model file (model_weights/ + model_config): input size from the config, 10-class top', async () => {
    const fx = await kerasFixture({ alpha: 0.35, size: 128, includeTop: true, classes: 10, layout: 'model', seed: 3 });
    const r = await importKerasH5(fx.bytes, { file: 'my-model.h5' });
    expect(r.layout).toBe('model');
    expect(r.inputSize).toBe(128);
    expect(r.includeTop).toBe(true);
    expect(r.classes).toBe(10);
    expect(r.sourceNames.get('predictions/kernel')).toBe('model_weights/predictions/predictions/kernel:0');
    expectSameWeights(r.weights, fx.weights);
  });

  it("published files' legacy layer names (mobl1_conv_1_expand, Logits, …) map by layer order, like Keras' load_weights", async () => {
    expect(legacyName('block_1_expand')).toBe('mobl1_conv_1_expand');
    expect(legacyName('block_1_expand_BN')).toBe('bn1_conv_1_bn_expand');
    expect(legacyName('expanded_conv_depthwise')).toBe('mobl0_conv_0_depthwise');
    expect(legacyName('predictions')).toBe('Logits');
    for (const layout of ['weights', 'model'] as const) {
      const fx = await kerasFixture({ alpha: 0.35, size: 96, includeTop: true, classes: 10, names: 'legacy', layout, seed: 11 });
      const r = await importKerasH5(fx.bytes, { file: fx.fileName });
      expect(r.matchedBy).toBe('order');
      expect(r.alpha).toBe(0.35);
      expect(r.includeTop).toBe(true);
      expect(r.classes).toBe(10);
      expect(r.sourceNames.get('block_1_expand/kernel')).toBe(`${layout === 'model' ? 'model_weights/' : ''}mobl1_conv_1_expand/mobl1_conv_1_expand/kernel:0`);
      expect(r.sourceNames.get('predictions/bias')).toContain('Logits/Logits/bias:0');
      expectSameWeights(r.weights, fx.weights);
    }
  });

  it('infers alpha from the shapes when the name says nothing; layer_names split in chunks (layer_names0, …)', async () => {
    const w = randomKerasWeights(0.5, false, 1000, 5);
    const bytes = await writeKerasH5(kerasLayerSpecs(w, { alpha: 0.5, inputSize: 224, includeTop: false }), { layerNameChunks: 3 });
    const r = await importKerasH5(bytes, { file: 'weights.h5' });
    expect(r.alpha).toBe(0.5);
    expect(r.inputSize).toBeUndefined();
    expectSameWeights(r.weights, w);
  });

  it('a file name that disagrees with the contents is noted; an explicit alpha that disagrees is an error', async () => {
    const r = await importKerasH5(base.bytes, { file: kerasWeightsFileName(1.0, 224, false) });
    expect(r.alpha).toBe(0.35);
    expect(r.notes.join('\n')).toContain('the file name says alpha 1.0 but the weights are alpha 0.35');
    const e = await expectH5Error(importKerasH5(base.bytes, { file: 'w.h5', alpha: 0.5 }), 'w.h5', 'expected alpha 0.5 but the weights are Keras MobileNetV2 alpha=0.35', 'against alpha=0.5', 'wrong shapes');
    expect(e.tensor).toBe('block_1_project/kernel'); // the first layer whose width differs (8 vs 16 channels)
  });

  it('asking for the top from a _no_top file names the missing head tensors', async () => {
    const e = await expectH5Error(importKerasH5(base.bytes, { file: base.fileName, includeTop: true }), base.fileName, 'missing tensors (2): predictions/kernel, predictions/bias', '_no_top');
    expect(e.tensor).toBe('predictions/kernel');
  });

  it('a wrong shape names the file and the tensor (and, for legacy names, the dataset)', async () => {
    const w = new Map(base.weights);
    w.set('block_3_project/kernel', { shape: [1, 1, 96, 24], data: new Float32Array(96 * 24) });
    const bytes = await writeKerasH5(kerasLayerSpecs(w, { alpha: 0.35, inputSize: 96, includeTop: false }));
    const e = await expectH5Error(importKerasH5(bytes, { file: base.fileName }), base.fileName, 'alpha=0.35', 'block_3_project/kernel: got [1,1,96,24], expected [1,1,48,16]');
    expect(e.tensor).toBe('block_3_project/kernel');

    const legacy = await writeKerasH5(kerasLayerSpecs(w, { alpha: 0.35, inputSize: 96, includeTop: false, names: 'legacy' }));
    await expectH5Error(
      importKerasH5(legacy, { file: 'legacy.h5', alpha: 0.35 }),
      'legacy.h5',
      'paired by layer order',
      'block_3_project/kernel: got [1,1,96,24], expected [1,1,48,16] (file: mobl3_conv_3_project/mobl3_conv_3_project/kernel:0)',
    );
  });

  it('a dataset listed in weight_names but absent names the file and the tensor', async () => {
    const bytes = await writeKerasH5(kerasLayerSpecs(base.weights, { alpha: 0.35, inputSize: 96, includeTop: false }), {
      omitDatasets: ['block_5_depthwise_BN/block_5_depthwise_BN/moving_mean:0'],
    });
    const e = await expectH5Error(importKerasH5(bytes, { file: 'x.h5' }), 'x.h5', 'block_5_depthwise_BN/block_5_depthwise_BN/moving_mean:0', 'no such dataset');
    expect(e.tensor).toBe('block_5_depthwise_BN/block_5_depthwise_BN/moving_mean:0');
  });

  it('missing tensors (a layer saved without weights, or a layer dropped) are listed by name', async () => {
    const specs = kerasLayerSpecs(base.weights, { alpha: 0.35, inputSize: 96, includeTop: false });
    const noBn = specs.map((l) => (l.name === 'block_7_expand_BN' ? { ...l, weights: [] } : l));
    await expectH5Error(importKerasH5(await writeKerasH5(noBn), { file: 'a.h5' }), 'a.h5', 'missing tensors (4): block_7_expand_BN/gamma, block_7_expand_BN/beta');
    // Legacy names: fewer layers than Keras' is reported as such.
    const legacy = kerasLayerSpecs(base.weights, { alpha: 0.35, inputSize: 96, includeTop: false, names: 'legacy' }).filter((l) => l.name !== 'Conv_1_bn');
    await expectH5Error(importKerasH5(await writeKerasH5(legacy), { file: 'b.h5', alpha: 0.35 }), 'b.h5', 'the file has 103 layers with weights, Keras MobileNetV2 has 104', 'Conv_1_bn');
  });

  it('truncated bytes: the file and "truncated" (no HDF5 noise on stderr)', async () => {
    const cut = base.bytes.subarray(0, Math.floor(base.bytes.length * 0.6));
    expect(hdf5Problem(cut)).toMatch(/^truncated: \d+ bytes, but the HDF5 superblock says the file has \d+/);
    await expectH5Error(importKerasH5(cut, { file: base.fileName }), base.fileName, 'truncated');
    await expectH5Error(importKerasH5(base.bytes.subarray(0, 30), { file: 'tiny.h5' }), 'tiny.h5', /truncated|corrupt/);
  });

  it('non-HDF5 bytes: the file and what they look like', async () => {
    await expectH5Error(importKerasH5(new Uint8Array(0), { file: 'empty.h5' }), 'empty.h5', 'empty file');
    await expectH5Error(importKerasH5(new TextEncoder().encode('<!DOCTYPE html><html>403 Forbidden</html>'), { file: 'page.h5' }), 'page.h5', 'not an HDF5 file', 'HTML');
    await expectH5Error(importKerasH5(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]), { file: 'm.keras' }), 'm.keras', 'zip archive');
    await expectH5Error(importKerasH5(new Uint8Array(4096).fill(7), { file: 'junk.h5' }), 'junk.h5', 'no HDF5 signature');
  });

  it('an HDF5 file without the Keras layout says so', async () => {
    const { FS } = await h5wasm.ready;
    const f = new h5wasm.File('/not-keras.h5', 'w');
    f.create_dataset({ name: 'x', data: new Float32Array([1, 2, 3]) });
    f.close();
    const bytes = new Uint8Array(FS!.readFile('/not-keras.h5') as Uint8Array);
    FS!.unlink('/not-keras.h5');
    await expectH5Error(importKerasH5(bytes, { file: 'plain.h5' }), 'plain.h5', 'not a Keras weights file', 'top-level entries: x');
  });

  it('leaves nothing behind in the in-memory file system, also after errors', async () => {
    const { FS } = await h5wasm.ready;
    const before = (FS!.readdir('/') as string[]).filter((n) => n.startsWith('mnv2-h5-'));
    await importKerasH5(base.bytes, { file: base.fileName });
    await importKerasH5(base.bytes.subarray(0, 5000), { file: 'cut.h5' }).catch(() => undefined);
    const after = (FS!.readdir('/') as string[]).filter((n) => n.startsWith('mnv2-h5-'));
    expect(after).toEqual(before);
    expect(after).toEqual([]);
  });

  it('concurrent imports do not interfere', async () => {
    const rs: KerasH5Import[] = await Promise.all([importKerasH5(base.bytes, { file: 'a.h5' }), importKerasH5(base.bytes, { file: 'b.h5' })]);
    for (const r of rs) expectSameWeights(r.weights, base.weights);
  });
});
