// MobileNetV2's layers as the kernel benchmark sees them: every convolution, BatchNorm, residual
// add, pooling and dense layer of one configuration (alpha, input size, batch) with its tensor
// shapes, derived from the architecture table in @mnv2/core (Keras' block list).
import { architecture, blockPrefix } from '@mnv2/core';

export type LayerKind = 'stem' | 'expand' | 'depthwise' | 'project' | 'conv_1' | 'add' | 'pool' | 'dense' | 'loss' | 'model';

export interface Layer {
  /** Keras layer name (e.g. 'block_3_expand'). */
  name: string;
  kind: LayerKind;
  /** Input [N, H, W, C] (dense/loss: [N, features]). */
  x: number[];
  /** Output shape. */
  y: number[];
  /** Convolutions: kernel size and stride. */
  k: number;
  stride: 1 | 2;
  /** ReLU6 after the BatchNorm (Keras MobileNetV2: all but the project convs). */
  relu6: boolean;
  /** Parameter tensor shapes (model-level entries: every weight of the network). */
  params?: number[][];
}

export interface BenchConfig {
  alpha: number;
  size: number;
  batch: number;
}

export const configLabel = (c: BenchConfig) => `${c.size}x${c.size} b${c.batch}`;

const same = (n: number, s: number) => Math.ceil(n / s);

export function mobilenetV2Layers(cfg: BenchConfig, classes = 1000): Layer[] {
  const { batch: B, size } = cfg;
  const arch = architecture(cfg.alpha);
  const L: Layer[] = [];
  const params: number[][] = [];
  const conv = (name: string, kind: LayerKind, H: number, cin: number, cout: number, k: number, stride: 1 | 2, relu6: boolean): number => {
    const OH = same(H, stride);
    L.push({ name, kind, x: [B, H, H, cin], y: [B, OH, OH, cout], k, stride, relu6 });
    params.push(kind === 'depthwise' ? [k, k, cin] : kind === 'stem' ? [k, k, cin, cout] : [cin, cout], [cout], [cout]); // filter, gamma, beta
    return OH;
  };
  let H = conv('Conv1', 'stem', size, 3, arch.stemChannels, 3, 2, true);
  for (const b of arch.blocks) {
    const p = blockPrefix(b.index);
    if (b.expansion !== 1) conv(`${p}_expand`, 'expand', H, b.inChannels, b.expandedChannels, 1, 1, true);
    const OH = conv(`${p}_depthwise`, 'depthwise', H, b.expandedChannels, b.expandedChannels, 3, b.stride, true);
    conv(`${p}_project`, 'project', OH, b.expandedChannels, b.outChannels, 1, 1, false);
    if (b.residual) L.push({ name: `${p}_add`, kind: 'add', x: [B, OH, OH, b.outChannels], y: [B, OH, OH, b.outChannels], k: 1, stride: 1, relu6: false });
    H = OH;
  }
  const last = arch.blocks[arch.blocks.length - 1].outChannels;
  conv('Conv_1', 'conv_1', H, last, arch.lastChannels, 1, 1, true);
  L.push({ name: 'global_average_pooling2d', kind: 'pool', x: [B, H, H, arch.lastChannels], y: [B, arch.lastChannels], k: 1, stride: 1, relu6: false });
  L.push({ name: 'predictions', kind: 'dense', x: [B, arch.lastChannels], y: [B, classes], k: 1, stride: 1, relu6: false });
  params.push([arch.lastChannels, classes], [classes]);
  L.push({ name: 'loss', kind: 'loss', x: [B, classes], y: [1], k: 1, stride: 1, relu6: false });
  L.push({ name: 'all weights', kind: 'model', x: [], y: [], k: 1, stride: 1, relu6: false, params });
  return L;
}

export const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export const pixels = (s: readonly number[]) => s[0] * s[1] * s[2];
