// The benchmark table: one entry per op (kernel or fused kernel pair), each saying which layers it
// runs on, its FLOPs and compulsory bytes for a layer, and how to set it up (inputs with random
// data) and run it (record the op once; outputs are released by tidy). Adding an op family is one
// entry here.
//
// Bytes are the minimal traffic: every input read once and every output written once (f32), so
// GB/s is an effective bandwidth; FLOPs count a multiply-add as 2.
import {
  type Engine,
  type Tensor,
  type BatchNormParams,
  pointwiseConv2d,
  pointwiseConv2dBackwardInput,
  pointwiseConv2dBackwardFilter,
  dense,
  denseBackward,
  conv2d,
  conv2dBackwardFilter,
  depthwiseConv2d,
  depthwiseConv2dBackwardInput,
  depthwiseConv2dBackwardFilter,
  DEFAULT_DEPTHWISE_VARIANT,
  type DepthwiseVariant,
  batchNormTraining,
  batchNormTrainingBackward,
  batchNormInference,
  add,
  globalAvgPool,
  softmaxCrossEntropy,
  adam,
} from '@mnv2/core';
import { type Layer, type LayerKind, sizeOf, pixels } from './layers.js';

/** Uploads random inputs and frees them after the measurement. */
export class SetupContext {
  private owned: Tensor[] = [];
  private cleanups: (() => void)[] = [];
  private seed = 12345;
  constructor(readonly e: Engine) {}

  /** Uniform random values in [lo, hi). */
  rand(shape: readonly number[], lo = -1, hi = 1): Tensor {
    const n = sizeOf(shape);
    const a = new Float32Array(n);
    let s = this.seed++ >>> 0;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      a[i] = lo + ((hi - lo) * s) / 4294967296;
    }
    return this.keep(this.e.upload(a, shape));
  }
  fill(shape: readonly number[], v: number): Tensor {
    return this.keep(this.e.upload(new Float32Array(sizeOf(shape)).fill(v), shape));
  }
  keep<T extends Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }
  /** Runs `fn` when the measurement is done (e.g. to free optimizer slots). */
  onDispose(fn: () => void): void {
    this.cleanups.push(fn);
  }
  dispose(): void {
    for (const t of this.owned) t.dispose();
    for (const f of this.cleanups) f();
    this.owned = [];
    this.cleanups = [];
  }
}

export interface BenchEntry {
  /** Op name as exported by @mnv2/core (plus a qualifier where one op is timed two ways). */
  name: string;
  /** Totals are summed per group (e.g. 'pointwise fwd'). */
  group: string;
  /** Compute-bound entries are compared with the adapter's matmul ceiling. */
  matmulLike?: boolean;
  /** Layer kinds the entry runs on. */
  kinds: LayerKind[];
  flops: (l: Layer) => number;
  bytes: (l: Layer) => number;
  /** Allocates inputs (through ctx) and returns the run function. */
  setup: (ctx: SetupContext, l: Layer) => () => void;
  /** Independent of the input size: time it once per batch (or once per run for 'model'). */
  sizeIndependent?: boolean;
  /**
   * A non-default kernel variant of the entry named here (e.g. the old depthwise kernels): timed only
   * with `bench kernels --variants`, interleaved with that entry on every shape, in its own group.
   */
  variantOf?: string;
}

const POINTWISE: LayerKind[] = ['expand', 'project', 'conv_1'];
const F = 4; // bytes per f32

const bnParams = (ctx: SetupContext, c: number): BatchNormParams => ({
  gamma: ctx.rand([c], 0.5, 1.5),
  beta: ctx.rand([c], -0.5, 0.5),
  movingMean: ctx.rand([c], -0.1, 0.1),
  movingVariance: ctx.rand([c], 0.5, 1.5),
});

const cin = (l: Layer) => l.x[l.x.length - 1];
const cout = (l: Layer) => l.y[l.y.length - 1];
const pwFlops = (l: Layer) => 2 * pixels(l.x) * cin(l) * cout(l);
const pwBytes = (l: Layer) => F * (sizeOf(l.x) + cin(l) * cout(l) + sizeOf(l.y));
const dwFlops = (l: Layer) => 2 * l.k * l.k * sizeOf(l.y);
const dwBytes = (l: Layer) => F * (sizeOf(l.x) + sizeOf(l.y) + l.k * l.k * cin(l));
const convOpts = (l: Layer) => ({ stride: l.stride, padding: 'same' as const, kernelSize: l.k });

const DW_FWD = 'depthwiseConv2d (+BN+ReLU6 fused)';
const DW_BWD = 'depthwiseConv2dBackwardInput';
const DW_FILTER = 'depthwiseConv2dBackwardFilter';
const BN_BWD = 'batchNormTrainingBackward';
/** Depthwise forms timed beside the default with --variants: the baseline 'run' and the other lavapipe forms. */
const DW_OTHER: ('default' | DepthwiseVariant)[] = ['default', ...(['run', 'strip', 'subgroup'] as const).filter((v) => v !== DEFAULT_DEPTHWISE_VARIANT)];

/** Every conv/BN layer (BatchNorm follows each convolution). */
const CONV_KINDS: LayerKind[] = ['stem', 'expand', 'depthwise', 'project', 'conv_1'];

export const ENTRIES: BenchEntry[] = [
  // ---- pointwise (1x1) convolution: matmul family
  {
    name: 'pointwiseConv2d (+BN+ReLU6 / +residual fused)',
    group: 'pointwise fwd',
    matmulLike: true,
    kinds: POINTWISE,
    flops: pwFlops,
    bytes: (l) => pwBytes(l) + (l.residual ? F * sizeOf(l.y) : 0),
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const w = ctx.rand([cin(l), cout(l)]);
      const epilogue = { scale: ctx.rand([cout(l)], 0.5, 1.5), shift: ctx.rand([cout(l)]), relu6: l.relu6 };
      // A residual block's projection adds the shortcut in its store, as the network's inference does.
      const residual = l.residual ? ctx.rand(l.y) : undefined;
      return () => ctx.e.tidy(() => void pointwiseConv2d(ctx.e, x, w, { epilogue, residual }));
    },
  },
  {
    name: 'pointwiseConv2dBackwardInput',
    group: 'pointwise bwd-input',
    matmulLike: true,
    kinds: POINTWISE,
    flops: pwFlops,
    bytes: pwBytes,
    setup: (ctx, l) => {
      const dy = ctx.rand(l.y);
      const w = ctx.rand([cin(l), cout(l)]);
      return () => ctx.e.tidy(() => void pointwiseConv2dBackwardInput(ctx.e, dy, w));
    },
  },
  {
    name: 'pointwiseConv2dBackwardFilter',
    group: 'pointwise bwd-filter',
    matmulLike: true,
    kinds: POINTWISE,
    flops: pwFlops,
    bytes: pwBytes,
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const dy = ctx.rand(l.y);
      return () => ctx.e.tidy(() => void pointwiseConv2dBackwardFilter(ctx.e, x, dy));
    },
  },
  // ---- full 3x3 convolution (the stem)
  {
    name: 'conv2d (+BN+ReLU6 fused)',
    group: 'stem conv fwd',
    kinds: ['stem'],
    flops: (l) => 2 * l.k * l.k * cin(l) * sizeOf(l.y),
    bytes: (l) => F * (sizeOf(l.x) + sizeOf(l.y) + l.k * l.k * cin(l) * cout(l)),
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const w = ctx.rand([l.k, l.k, cin(l), cout(l)]);
      const epilogue = { scale: ctx.rand([cout(l)], 0.5, 1.5), shift: ctx.rand([cout(l)]), relu6: true };
      return () => ctx.e.tidy(() => void conv2d(ctx.e, x, w, { ...convOpts(l), epilogue }));
    },
  },
  {
    name: 'conv2dBackwardFilter',
    group: 'stem conv bwd-filter',
    kinds: ['stem'],
    flops: (l) => 2 * l.k * l.k * cin(l) * sizeOf(l.y),
    bytes: (l) => F * (sizeOf(l.x) + sizeOf(l.y) + l.k * l.k * cin(l) * cout(l)),
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const dy = ctx.rand(l.y);
      return () => ctx.e.tidy(() => void conv2dBackwardFilter(ctx.e, x, dy, convOpts(l)));
    },
  },
  // ---- depthwise 3x3
  ...DW_OTHER.map((v): BenchEntry => ({
    name: v === 'default' ? DW_FWD : `depthwiseConv2d [${v}] (+BN+ReLU6 fused)`,
    group: v === 'default' ? 'depthwise fwd' : `depthwise fwd [${v}]`,
    variantOf: v === 'default' ? undefined : DW_FWD,
    kinds: ['depthwise'],
    flops: dwFlops,
    bytes: dwBytes,
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const w = ctx.rand([l.k, l.k, cin(l)]);
      const epilogue = { scale: ctx.rand([cout(l)], 0.5, 1.5), shift: ctx.rand([cout(l)]), relu6: true };
      const depthwiseVariant = v === 'default' ? undefined : v;
      return () => ctx.e.tidy(() => void depthwiseConv2d(ctx.e, x, w, { ...convOpts(l), epilogue, depthwiseVariant }));
    },
  })),
  ...DW_OTHER.map((v): BenchEntry => ({
    name: v === 'default' ? DW_BWD : `depthwiseConv2dBackwardInput [${v}]`,
    group: v === 'default' ? 'depthwise bwd-input' : `depthwise bwd-input [${v}]`,
    variantOf: v === 'default' ? undefined : DW_BWD,
    kinds: ['depthwise'],
    flops: dwFlops,
    bytes: dwBytes,
    setup: (ctx, l) => {
      const dy = ctx.rand(l.y);
      const w = ctx.rand([l.k, l.k, cin(l)]);
      const depthwiseVariant = v === 'default' ? undefined : v;
      return () => ctx.e.tidy(() => void depthwiseConv2dBackwardInput(ctx.e, dy, w, l.x, { ...convOpts(l), depthwiseVariant }));
    },
  })),
  // (the filter gradient has a 'subgroup' form and one register-blocked form for the other variants)
  ...DW_OTHER.filter((v) => v !== 'strip').map((v): BenchEntry => ({
    name: v === 'default' ? DW_FILTER : `depthwiseConv2dBackwardFilter [${v}]`,
    group: v === 'default' ? 'depthwise bwd-filter' : `depthwise bwd-filter [${v}]`,
    variantOf: v === 'default' ? undefined : DW_FILTER,
    kinds: ['depthwise'],
    flops: dwFlops,
    bytes: dwBytes,
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const dy = ctx.rand(l.y);
      const depthwiseVariant = v === 'default' ? undefined : v;
      return () => ctx.e.tidy(() => void depthwiseConv2dBackwardFilter(ctx.e, x, dy, { ...convOpts(l), depthwiseVariant }));
    },
  })),
  // ---- BatchNorm on every conv output (training mode: statistics + normalize [+ReLU6])
  {
    name: 'batchNormTraining',
    group: 'batchnorm train fwd',
    kinds: CONV_KINDS,
    flops: (l) => 5 * sizeOf(l.y),
    bytes: (l) => F * 2 * sizeOf(l.y),
    setup: (ctx, l) => {
      const z = ctx.rand(l.y);
      const p = bnParams(ctx, cout(l));
      return () => ctx.e.tidy(() => void batchNormTraining(ctx.e, z, p, { relu6: l.relu6 }));
    },
  },
  // default: two passes reading x and dy (compulsory traffic x, dy, dx); [three-pass]: the former
  // kernels, which read y for the ReLU6 mask (compulsory x, y, dy, dx)
  ...(['default', 'three-pass', 'finalize'] as const).map((v): BenchEntry => ({
    name: v === 'default' ? BN_BWD : `batchNormTrainingBackward [${v}]`,
    group: v === 'default' ? 'batchnorm train bwd' : `batchnorm train bwd [${v}]`,
    variantOf: v === 'default' ? undefined : BN_BWD,
    kinds: CONV_KINDS,
    flops: (l) => 8 * sizeOf(l.y),
    bytes: (l) => F * (v === 'three-pass' ? 4 : 3) * sizeOf(l.y),
    setup: (ctx, l) => {
      const e = ctx.e;
      const z = ctx.rand(l.y);
      const dy = ctx.rand(l.y);
      const p = bnParams(ctx, cout(l));
      const fwd = batchNormTraining(e, z, p, { relu6: l.relu6 });
      ctx.keep(fwd.y);
      ctx.keep(fwd.mean);
      ctx.keep(fwd.invStd);
      const variant = v === 'default' ? undefined : v;
      return () => e.tidy(() => void batchNormTrainingBackward(e, z, fwd.y, dy, fwd, p, { relu6: l.relu6, variant }));
    },
  })),
  {
    name: 'batchNormInference (unfused)',
    group: 'batchnorm inference',
    kinds: CONV_KINDS,
    flops: (l) => 2 * sizeOf(l.y),
    bytes: (l) => F * 2 * sizeOf(l.y),
    setup: (ctx, l) => {
      const z = ctx.rand(l.y);
      const p = bnParams(ctx, cout(l));
      return () => ctx.e.tidy(() => void batchNormInference(ctx.e, z, p, { relu6: l.relu6 }));
    },
  },
  // ---- element-wise, pooling, head, loss, optimizer
  {
    name: 'add (residual)',
    group: 'residual add',
    kinds: ['add'],
    flops: (l) => sizeOf(l.y),
    bytes: (l) => F * 3 * sizeOf(l.y),
    setup: (ctx, l) => {
      const a = ctx.rand(l.x);
      const b = ctx.rand(l.x);
      return () => ctx.e.tidy(() => void add(ctx.e, a, b));
    },
  },
  {
    name: 'globalAvgPool',
    group: 'global avg pool',
    kinds: ['pool'],
    flops: (l) => sizeOf(l.x),
    bytes: (l) => F * (sizeOf(l.x) + sizeOf(l.y)),
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      return () => ctx.e.tidy(() => void globalAvgPool(ctx.e, x));
    },
  },
  {
    name: 'dense (+bias)',
    group: 'dense fwd',
    matmulLike: true,
    kinds: ['dense'],
    sizeIndependent: true,
    flops: (l) => 2 * l.x[0] * l.x[1] * l.y[1],
    bytes: (l) => F * (sizeOf(l.x) + l.x[1] * l.y[1] + 2 * sizeOf(l.y)),
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const w = ctx.rand([l.x[1], l.y[1]], -0.05, 0.05);
      const b = ctx.rand([l.y[1]]);
      return () => ctx.e.tidy(() => void dense(ctx.e, x, w, b));
    },
  },
  {
    name: 'denseBackward (dx, dw, db)',
    group: 'dense bwd',
    matmulLike: true,
    kinds: ['dense'],
    sizeIndependent: true,
    flops: (l) => 4 * l.x[0] * l.x[1] * l.y[1],
    bytes: (l) => F * 2 * (sizeOf(l.x) + l.x[1] * l.y[1] + sizeOf(l.y)),
    setup: (ctx, l) => {
      const x = ctx.rand(l.x);
      const w = ctx.rand([l.x[1], l.y[1]], -0.05, 0.05);
      const dy = ctx.rand(l.y);
      return () => ctx.e.tidy(() => void denseBackward(ctx.e, x, w, dy));
    },
  },
  {
    name: 'softmaxCrossEntropy',
    group: 'loss',
    kinds: ['loss'],
    sizeIndependent: true,
    flops: (l) => 5 * sizeOf(l.x),
    bytes: (l) => F * 2 * sizeOf(l.x),
    setup: (ctx, l) => {
      const logits = ctx.rand(l.x, -3, 3);
      const labels = ctx.keep(ctx.e.upload(Int32Array.from({ length: l.x[0] }, (_, i) => (i * 37) % l.x[1]), [l.x[0]], 'i32'));
      return () => ctx.e.tidy(() => void softmaxCrossEntropy(ctx.e, logits, labels));
    },
  },
  {
    name: 'adam step',
    group: 'optimizer',
    kinds: ['model'],
    sizeIndependent: true,
    flops: (l) => 12 * (l.params ?? []).reduce((s, p) => s + sizeOf(p), 0),
    bytes: (l) => F * 7 * (l.params ?? []).reduce((s, p) => s + sizeOf(p), 0),
    setup: (ctx, l) => {
      const opt = adam({ learningRate: 1e-4 });
      const params = (l.params ?? []).map((shape, i) => ({ param: ctx.rand(shape, -0.1, 0.1), grad: ctx.rand(shape, -0.01, 0.01), key: `p${i}` }));
      ctx.onDispose(() => opt.dispose());
      return () => opt.step(ctx.e, params);
    },
  },
];
