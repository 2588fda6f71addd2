// The Keras layer list and parameter counts must match keras.applications.MobileNetV2 exactly.
import { describe, it, expect } from 'vitest';
import { kerasLayers, countParams, formatSummary } from '@mnv2/core';

describe('Keras MobileNetV2 layer list', () => {
  it('1.0/224 with top: 3,538,984 total, 34,112 non-trainable', () => {
    const c = countParams(kerasLayers({ alpha: 1.0, inputSize: 224, includeTop: true }));
    expect(c).toEqual({ total: 3_538_984, trainable: 3_504_872, nonTrainable: 34_112 });
  });
  it('1.0/224 without top: 2,257,984 total; the base has 154 layers', () => {
    const layers = kerasLayers({ alpha: 1.0, inputSize: 224, includeTop: false });
    expect(layers.length).toBe(154);
    expect(countParams(layers).total).toBe(2_257_984);
    expect(layers[0].name).toBe('input_layer');
    expect(layers[1].name).toBe('Conv1');
    expect(layers[153].name).toBe('out_relu');
  });
  it('names and shapes around the stride-2 pads follow correct_pad', () => {
    const layers = kerasLayers({ alpha: 1.0, inputSize: 224, includeTop: true });
    const byName = new Map(layers.map((l) => [l.name, l]));
    expect(byName.get('block_1_pad')!.outputShape).toEqual([null, 113, 113, 96]);
    expect(byName.get('block_1_depthwise')!.outputShape).toEqual([null, 56, 56, 96]);
    expect(byName.get('block_16_project_BN')!.outputShape).toEqual([null, 7, 7, 320]);
    expect(layers[layers.length - 1].name).toBe('predictions');
    expect(layers.filter((l) => l.type === 'Add').length).toBe(10);
  });
  it('frozen 1.0/160 base + Dense(1) head: the tutorial totals (2,259,265 total, 1,281 trainable)', () => {
    const base = kerasLayers({ alpha: 1.0, inputSize: 160, includeTop: false });
    const baseCounts = countParams(base, () => false);
    const head = 1280 * 1 + 1;
    expect(baseCounts.total + head).toBe(2_259_265);
    expect(baseCounts.trainable + head).toBe(1_281);
  });
  it('alpha 0.35 and 1.4 channel rounding', () => {
    const ch = (alpha: number, name: string) =>
      kerasLayers({ alpha, inputSize: 224, includeTop: false }).find((l) => l.name === name)!.outputShape[3];
    // _make_divisible(32*0.35 = 11.2, 8) rounds to 8, which loses > 10%, so Keras bumps it to 16.
    expect(ch(0.35, 'Conv1')).toBe(16);
    expect(ch(0.35, 'expanded_conv_project')).toBe(8);
    expect(ch(0.35, 'block_16_project')).toBe(112);
    expect(ch(0.35, 'Conv_1')).toBe(1280); // kept for alpha <= 1
    expect(ch(1.4, 'Conv1')).toBe(48);
    expect(ch(1.4, 'Conv_1')).toBe(1792);
  });
  it('summary prints Keras-style totals', () => {
    const s = formatSummary('mobilenetv2_1.00_224', kerasLayers({ alpha: 1.0, inputSize: 224, includeTop: true }));
    expect(s).toContain('Total params: 3,538,984');
    expect(s).toContain('Non-trainable params: 34,112');
  });
});
