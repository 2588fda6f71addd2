// TF-Slim float checkpoint dump (261 .npy) → Keras names: the complete include_top=False base.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { importTfSlim, tfslimToKerasName, parseNpy, serializeNpy, expectedWeights, checkWeights, totalValues, weightSource } from '@mnv2/core';
import { readTfSlimFolder, TFSLIM_DIR } from './files.js';

describe('TF-Slim npy dump', () => {
  const files = readTfSlimFolder();

  it('name mapping follows the MANIFEST', () => {
    expect(tfslimToKerasName('Conv_weights.npy')).toBe('Conv1/kernel');
    expect(tfslimToKerasName('Conv_BatchNorm_moving_variance.npy')).toBe('bn_Conv1/moving_variance');
    expect(tfslimToKerasName('expanded_conv_depthwise_depthwise_weights.npy')).toBe('expanded_conv_depthwise/depthwise_kernel');
    expect(tfslimToKerasName('expanded_conv_project_BatchNorm_beta.npy')).toBe('expanded_conv_project_BN/beta');
    expect(tfslimToKerasName('expanded_conv_12_expand_weights.npy')).toBe('block_12_expand/kernel');
    expect(tfslimToKerasName('MobilenetV2/expanded_conv_3/depthwise/BatchNorm/gamma')).toBe('block_3_depthwise_BN/gamma');
    expect(tfslimToKerasName('Conv_1_BatchNorm_gamma.npy')).toBe('Conv_1_bn/gamma');
    expect(tfslimToKerasName('Logits_Conv2d_1c_1x1_biases.npy')).toBe('predictions/bias');
    expect(tfslimToKerasName('global_step.npy')).toBeNull();
  });

  it('maps all 260 base tensors with Keras shapes (2,257,984 values); the lone logits bias is left out', () => {
    expect(Object.keys(files).filter((f) => f.endsWith('.npy')).length).toBe(261);
    const r = importTfSlim(files);
    expect(r.alpha).toBe(1.0);
    expect(r.includeTop).toBe(false);
    expect(r.weights.size).toBe(260);
    expect(totalValues(r.weights)).toBe(2_257_984);
    const c = checkWeights(r.weights, expectedWeights(1.0, 224, false));
    expect(c).toEqual({ missing: [], unexpected: [], mismatched: [] });
    expect(r.weights.get('block_16_project/kernel')!.shape).toEqual([1, 1, 960, 320]);
    expect(r.weights.get('block_1_depthwise/depthwise_kernel')!.shape).toEqual([3, 3, 96, 1]);
    expect(r.ignored.some((s) => s.startsWith('Logits_Conv2d_1c_1x1_biases.npy'))).toBe(true);
    expect(r.sourceNames.get('block_5_expand_BN/gamma')).toBe('expanded_conv_5_expand_BatchNorm_gamma.npy');
    // Values pass through untouched.
    const raw = parseNpy(readFileSync(`${TFSLIM_DIR}expanded_conv_7_project_weights.npy`));
    expect(r.weights.get('block_7_project/kernel')!.data).toEqual(raw.data);
    for (const [name, t] of r.weights) {
      expect(t.data.every(Number.isFinite), name).toBe(true);
      if (name.endsWith('moving_variance')) expect(t.data.every((v) => v >= 0), name).toBe(true);
    }
    // And the adapter accepts it in strict mode.
    const src = weightSource(r.weights, { strict: true, alpha: 1.0 });
    expect(src('block_1_expand/kernel', [16, 96])!.length).toBe(1536);
  });

  it('with the logits weights present, the 1001-way head maps (and can drop the background class)', () => {
    const bias = parseNpy(files['Logits_Conv2d_1c_1x1_biases.npy']).data;
    const w = new Float32Array(1280 * 1001).map((_, i) => i % 1001);
    const withHead = { ...files, 'Logits_Conv2d_1c_1x1_weights.npy': serializeNpy([1, 1, 1280, 1001], w) };
    const r = importTfSlim(withHead);
    expect(r.includeTop).toBe(true);
    expect(r.classes).toBe(1001);
    expect(r.weights.get('predictions/kernel')!.shape).toEqual([1280, 1001]);
    const d = importTfSlim(withHead, { dropBackground: true });
    expect(d.classes).toBe(1000);
    expect(d.weights.get('predictions/kernel')!.data[0]).toBe(1); // column 0 (background) dropped
    expect(d.weights.get('predictions/bias')!.data[0]).toBe(bias[1]);
    expect(checkWeights(d.weights, expectedWeights(1.0, 224, true, 1000)).mismatched).toEqual([]);
  });

  it('incomplete or foreign dumps fail with the names', () => {
    const partial = { ...files };
    delete partial['expanded_conv_4_project_weights.npy'];
    expect(() => importTfSlim(partial)).toThrow(/closest is alpha=1:\nmissing \(1\): block_4_project\/kernel/);
    const bad = { ...files, 'Conv_weights.npy': files['Conv_weights.npy'].subarray(0, 200) };
    expect(() => importTfSlim(bad)).toThrow(/Conv_weights\.npy: truncated data/);
  });
});
