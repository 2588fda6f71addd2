// MobileNetV2's architecture as Keras builds it (keras/src/applications/mobilenet_v2.py): channel
// rounding with _make_divisible, the block table, and the Keras layer names of every unit.

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
