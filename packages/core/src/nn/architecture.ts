// MobileNetV2's architecture as Keras builds it (keras/src/applications/mobilenet_v2.py): channel
// rounding with _make_divisible, the block table, and `units()`: the Keras-named conv/BN units in
// order, the one sequence the network, the Keras layer list, the ONNX writer and the importers use.

/** Keras' `_make_divisible`: round to a multiple of `divisor`, never dropping more than 10%. */
export function makeDivisible(v: number, divisor = 8, minValue?: number): number {
  const min = minValue ?? divisor;
  let n = Math.max(min, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

export interface BlockSpec {
  index: number; // 0..16; Keras names block 0 `expanded_conv`, others `block_<index>`
  inChannels: number;
  expandedChannels: number;
  outChannels: number;
  stride: 1 | 2;
  expansion: number;
  residual: boolean;
}

// (filters, stride, expansion) for the 17 inverted residual blocks.
const TABLE: [number, 1 | 2, number][] = [
  [16, 1, 1],
  [24, 2, 6], [24, 1, 6],
  [32, 2, 6], [32, 1, 6], [32, 1, 6],
  [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
  [96, 1, 6], [96, 1, 6], [96, 1, 6],
  [160, 2, 6], [160, 1, 6], [160, 1, 6],
  [320, 1, 6],
];

export interface Architecture {
  alpha: number;
  stemChannels: number;
  blocks: BlockSpec[];
  lastChannels: number;
}

export function architecture(alpha: number): Architecture {
  if (!(alpha > 0)) throw new Error(`MobileNetV2: alpha must be positive, got ${alpha}`);
  const stemChannels = makeDivisible(32 * alpha, 8);
  let inC = stemChannels;
  const blocks = TABLE.map(([filters, stride, expansion], index) => {
    const outC = makeDivisible(Math.trunc(filters * alpha), 8);
    const b: BlockSpec = {
      index,
      inChannels: inC,
      expandedChannels: expansion * inC,
      outChannels: outC,
      stride,
      expansion,
      residual: stride === 1 && inC === outC,
    };
    inC = outC;
    return b;
  });
  // Keras keeps 1280 for alpha <= 1 and scales it only above.
  const lastChannels = alpha > 1.0 ? makeDivisible(1280 * alpha, 8) : 1280;
  return { alpha, stemChannels, blocks, lastChannels };
}

export const blockPrefix = (index: number) => (index === 0 ? 'expanded_conv' : `block_${index}`);

export type UnitKind = 'conv3x3' | 'depthwise' | 'pointwise';

/** One Keras conv → BatchNormalization (→ ReLU6) unit, with its Keras layer names. */
export interface UnitSpec {
  kind: UnitKind;
  /** Keras conv layer (`block_3_expand`); its weight is `<conv>/kernel` (`/depthwise_kernel` for depthwise). */
  conv: string;
  /** Keras BatchNormalization layer (`block_3_expand_BN`). */
  bn: string;
  /** Keras ReLU layer (`block_3_expand_relu`); absent for the linear projection. */
  relu?: string;
  activation: 'relu6' | 'linear';
  inC: number;
  outC: number;
  stride: 1 | 2;
  /** The inverted-residual block the unit belongs to; absent for the stem (Conv1) and Conv_1. */
  block?: BlockSpec;
}

/**
 * MobileNetV2's conv/BN units in Keras' order and names: `Conv1`/`bn_Conv1`, then per block
 * `<p>_expand` (absent when the expansion is 1), `<p>_depthwise`, `<p>_project` (linear), then
 * `Conv_1`/`Conv_1_bn`. Adding a model variant starts here.
 */
export function units(alpha: number | Architecture): UnitSpec[] {
  const a = typeof alpha === 'number' ? architecture(alpha) : alpha;
  const relu6 = (kind: UnitKind, conv: string, bn: string, relu: string, inC: number, outC: number, stride: 1 | 2, block?: BlockSpec): UnitSpec => ({
    kind, conv, bn, relu, activation: 'relu6', inC, outC, stride, block,
  });
  const seq: UnitSpec[] = [relu6('conv3x3', 'Conv1', 'bn_Conv1', 'Conv1_relu', 3, a.stemChannels, 2)];
  for (const b of a.blocks) {
    const p = blockPrefix(b.index);
    if (b.expansion !== 1) seq.push(relu6('pointwise', `${p}_expand`, `${p}_expand_BN`, `${p}_expand_relu`, b.inChannels, b.expandedChannels, 1, b));
    seq.push(relu6('depthwise', `${p}_depthwise`, `${p}_depthwise_BN`, `${p}_depthwise_relu`, b.expandedChannels, b.expandedChannels, b.stride, b));
    seq.push({ kind: 'pointwise', conv: `${p}_project`, bn: `${p}_project_BN`, activation: 'linear', inC: b.expandedChannels, outC: b.outChannels, stride: 1, block: b });
  }
  seq.push(relu6('pointwise', 'Conv_1', 'Conv_1_bn', 'out_relu', a.blocks[a.blocks.length - 1].outChannels, a.lastChannels, 1));
  return seq;
}

/** The Keras weight names and shapes of a unit's conv kernel. */
export function unitKernel(u: UnitSpec): { name: string; shape: number[] } {
  if (u.kind === 'depthwise') return { name: `${u.conv}/depthwise_kernel`, shape: [3, 3, u.inC] };
  return { name: `${u.conv}/kernel`, shape: u.kind === 'pointwise' ? [u.inC, u.outC] : [3, 3, u.inC, u.outC] };
}
