// WeightMap helpers: expected Keras weights, checks, and the adapter MobileNetV2Net consumes.
import { describe, it, expect } from 'vitest';
import { expectedWeights, checkWeights, weightSource, totalValues, withKerasShapes, type WeightMap } from '@mnv2/core';

function fullMap(alpha: number, includeTop = false, classes = 1000): WeightMap {
  const m: WeightMap = new Map();
  for (const w of expectedWeights(alpha, 224, includeTop, classes)) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    m.set(w.name, { shape: w.shape, data: new Float32Array(n).fill(0.5) });
  }
  return m;
}

describe('weight map', () => {
  it('expectedWeights follows kerasLayers (2,257,984 base values, 3,538,984 with top)', () => {
    const base = expectedWeights(1.0, 224, false);
    expect(base.length).toBe(52 * 5);
    expect(base[0]).toMatchObject({ name: 'Conv1/kernel', shape: [3, 3, 3, 32] });
    expect(base.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0)).toBe(2_257_984);
    const top = expectedWeights(1.0, 224, true, 1001);
    expect(top.at(-2)).toMatchObject({ name: 'predictions/kernel', shape: [1280, 1001] });
    expect(totalValues(fullMap(1.0, true))).toBe(3_538_984);
  });

  it('checkWeights lists missing, unexpected and mis-shaped names', () => {
    const m = fullMap(1.0);
    m.delete('block_3_expand/kernel');
    m.set('extra/kernel', { shape: [1], data: new Float32Array(1) });
    m.set('Conv1/kernel', { shape: [3, 3, 32, 3], data: new Float32Array(864) });
    const c = checkWeights(m, expectedWeights(1.0));
    expect(c.missing).toEqual(['block_3_expand/kernel']);
    expect(c.unexpected).toEqual(['extra/kernel']);
    expect(c.mismatched).toEqual(['Conv1/kernel: got [3,3,32,3], expected [3,3,3,32]']);
  });

  it('weightSource hands data through for squeezed shapes and names both shapes on mismatch', () => {
    const m = fullMap(1.0);
    const src = weightSource(m);
    expect(src('block_1_expand/kernel', [16, 96])).toBe(m.get('block_1_expand/kernel')!.data);
    expect(src('block_1_depthwise/depthwise_kernel', [3, 3, 96])!.length).toBe(864);
    expect(src('Conv1/kernel', [3, 3, 3, 32])!.length).toBe(864);
    expect(src('not/there', [3])).toBeUndefined();
    expect(() => src('block_1_expand/kernel', [96, 16])).toThrow(/block_1_expand\/kernel has shape \[1,1,16,96\] \(1536 values\) but the network needs \[96,16\]/);
    expect(() => src('bn_Conv1/gamma', [16])).toThrow(/bn_Conv1\/gamma has shape \[32\] \(32 values\) but the network needs \[16\] \(16 values\)/);
  });

  it('strict mode checks the whole map first and rejects unknown names', () => {
    expect(() => weightSource(fullMap(1.0), { strict: true, alpha: 1.0 })).not.toThrow();
    expect(() => weightSource(fullMap(0.5), { strict: true, alpha: 1.0, source: 'w.safetensors' })).toThrow(/w\.safetensors.*alpha=1[\s\S]*shape mismatch \(\d+\): Conv1\/kernel: got \[3,3,3,16\], expected \[3,3,3,32\], bn_Conv1\/gamma: got \[16\], expected \[32\]/);
    const m = fullMap(1.0);
    m.delete('Conv_1_bn/moving_mean');
    expect(() => weightSource(m, { strict: true, alpha: 1.0 })).toThrow(/missing \(1\): Conv_1_bn\/moving_mean/);
    expect(() => weightSource(fullMap(1.0, true), { strict: true, alpha: 1.0 })).toThrow(/unexpected \(2\): predictions\/kernel, predictions\/bias/);
    const strict = weightSource(fullMap(1.0, true, 1001), { strict: true, alpha: 1.0, includeTop: true, classes: 1001 });
    expect(() => strict('dense/kernel', [1280, 2])).toThrow(/no tensor named dense\/kernel/);
  });

  it('withKerasShapes restores Keras shapes for export', () => {
    const m: WeightMap = new Map([
      ['block_1_expand/kernel', { shape: [16, 96], data: new Float32Array(1536) }],
      ['block_1_depthwise/depthwise_kernel', { shape: [3, 3, 96], data: new Float32Array(864) }],
      ['dense/kernel', { shape: [1280, 2], data: new Float32Array(2560) }],
    ]);
    const k = withKerasShapes(m, expectedWeights(1.0));
    expect(k.get('block_1_expand/kernel')!.shape).toEqual([1, 1, 16, 96]);
    expect(k.get('block_1_depthwise/depthwise_kernel')!.shape).toEqual([3, 3, 96, 1]);
    expect(k.get('dense/kernel')!.shape).toEqual([1280, 2]);
    expect(checkWeights(k, expectedWeights(1.0)).mismatched).toEqual([]);
  });
});
