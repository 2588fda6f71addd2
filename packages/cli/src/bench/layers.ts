// MobileNetV2's layers as the kernel benchmark sees them: every convolution, BatchNorm, residual
// add, pooling and dense layer of one configuration (alpha, input size, batch) with its tensor
// shapes, derived from the architecture table in @mnv2/core (Keras' block list).
import { architecture, blockPrefix, units } from '@mnv2/core';

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
  /** A project conv whose block adds the shortcut: inference fuses the add into its kernel. */
  residual?: boolean;
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
  let H = size;
  for (const u of units(arch)) {
    const kind: LayerKind = !u.block ? (u.kind === 'conv3x3' ? 'stem' : 'conv_1') : u.kind === 'depthwise' ? 'depthwise' : u.relu ? 'expand' : 'project';
    H = conv(u.conv, kind, H, u.inC, u.outC, u.kind === 'pointwise' ? 1 : 3, u.stride, u.activation === 'relu6');
    const b = u.block;
    if (b?.residual && kind === 'project') L[L.length - 1].residual = true;
    if (b?.residual && !u.relu) L.push({ name: `${blockPrefix(b.index)}_add`, kind: 'add', x: [B, H, H, b.outChannels], y: [B, H, H, b.outChannels], k: 1, stride: 1, relu6: false });
  }
  L.push({ name: 'global_average_pooling2d', kind: 'pool', x: [B, H, H, arch.lastChannels], y: [B, arch.lastChannels], k: 1, stride: 1, relu6: false });
  L.push({ name: 'predictions', kind: 'dense', x: [B, arch.lastChannels], y: [B, classes], k: 1, stride: 1, relu6: false });
  params.push([arch.lastChannels, classes], [classes]);
  L.push({ name: 'loss', kind: 'loss', x: [B, classes], y: [1], k: 1, stride: 1, relu6: false });
  L.push({ name: 'all weights', kind: 'model', x: [], y: [], k: 1, stride: 1, relu6: false, params });
  return L;
}

export const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export const pixels = (s: readonly number[]) => s[0] * s[1] * s[2];

/** Multiply-add FLOPs (x2) of one forward of a conv/depthwise/dense layer of the list (0 for the others). */
export function layerFlops(l: Layer): number {
  if (l.kind === 'dense') return 2 * l.x[0] * l.x[1] * l.y[1];
  if (!['stem', 'expand', 'depthwise', 'project', 'conv_1'].includes(l.kind)) return 0;
  const [n, oh, ow, co] = l.y;
  return 2 * n * oh * ow * co * l.k * l.k * (l.kind === 'depthwise' ? 1 : l.x[3]);
}

/**
 * FLOPs of one training step of the whole network: every layer's forward, its weight gradient (as
 * many FLOPs) and its input gradient (as many, except the stem's, which nothing needs).
 */
export function fullTrainingStepFlops(cfg: BenchConfig, classes: number): number {
  let f = 0;
  for (const l of mobilenetV2Layers(cfg, classes)) f += layerFlops(l) * (l.kind === 'stem' ? 2 : 3);
  return f;
}

