// How much device memory a step of the network takes, from its real shapes, so that a batch too
// large for the device is refused up front with the largest batch that fits (and `--batch-size auto`
// can pick it), instead of failing mid-step.
//
// The model follows what the engine does: inside a step's tidy scope every activation stays
// allocated until the step ends; a unit that records for backward keeps its conv output and its BN
// output, and its backward adds the gradient of each (4 tensors of its output size), except an
// expand unit (or the stem) whose BN + ReLU6 the next depthwise unit applies as it loads
// (ConvBn.canDeferBnTo), which keeps no BN output (3); a unit that does not record keeps its fused
// output (1). The pool keeps freed buffers for the next step, so this is also what the process
// holds between steps. Weights, their gradients and two optimizer slots per trainable weight are
// the fixed part. Each activation is one buffer, so the largest must also fit maxBufferSize.
import type { Engine } from '../gpu/engine.js';
import { DeviceMemoryError } from '../gpu/errors.js';
import type { MobileNetV2Net } from '../nn/mobilenet-v2.js';
import { depthwiseFusesInputBn } from '../ops/conv/index.js';

export interface StepMemoryOptions {
  /** A training step (forward + backward + update) rather than inference. */
  training: boolean;
  /** Augmentation makes a second copy of the input batch. */
  augment?: boolean;
  /**
   * The depthwise kernels apply the preceding BatchNorm + ReLU6 as they load (core's
   * depthwiseFusesInputBn(engine)), so in training the expand units' and the stem's BN outputs are
   * never stored. Absent: counted as stored (an over-estimate by ~14 % of a whole-network step).
   */
  fusesInputBn?: boolean;
}

export interface MemoryEstimate {
  /** Weights, gradients and optimizer slots (bytes). */
  fixedBytes: number;
  /** Activations and gradients per image (bytes). */
  perSampleBytes: number;
  /**
   * The largest single tensor per image (bytes): every activation is one buffer of batch x this at
   * most, which must fit the device's maxBufferSize (256 MiB by WebGPU's default; paging splits what
   * is bound, not what is allocated).
   */
  largestTensorBytes: number;
}

/** Headroom for page temporaries, uniforms and the allocator's rounding. */
const SLACK = 1.15;

export function estimateStepMemory(net: MobileNetV2Net, opts: StepMemoryOptions): MemoryEstimate {
  let s = net.inputSize;
  // bytes per value: the input and gradients are f32; activations take `act` bytes (2 at --precision f16)
  const act = net.precision === 'f16' ? 2 : 4;
  let perSampleBytes = 4 * s * s * 3 * (opts.augment ? 2 : 1);
  let largestTensorBytes = 4 * s * s * 3;
  let recording = false;
  let trainable = 0;
  let weights = 0;
  const unitsWithResidual = new Set(net.blocks.filter((b) => b.residual).map((b) => b.units[b.units.length - 1]));
  // units whose BN output the next (depthwise) unit applies as it loads, when both record: the stem
  // (before block 0's depthwise) and every block's expand unit, as the network's forward decides
  const deferring = new Set(
    opts.fusesInputBn && net.precision !== 'f16'
      ? [
          ...(net.fuseStemBn && net.blocks[0] && !net.blocks[0].residual ? [net.stem] : []),
          ...net.blocks.filter((b) => b.fuseExpandBn && b.units.length === 3).map((b) => b.units[0]),
        ]
      : [],
  );
  for (const u of net.convUnits()) {
    const ps = u.params();
    for (const p of ps) {
      weights += p.value.size;
      if (p.trainable) trainable += p.value.size;
    }
    if (opts.training && ps.some((p) => p.trainable)) recording = true;
    if (u.spec.kind !== 'pointwise') s = Math.ceil(s / u.spec.stride);
    const out = s * s * u.spec.outChannels;
    const rec = opts.training && recording;
    largestTensorBytes = Math.max(largestTensorBytes, out * (rec ? 4 : act)); // (gradients are f32)
    perSampleBytes += out * (rec ? (deferring.has(u) ? act : 2 * act) + 2 * 4 : act); // conv and BN outputs (+ their gradients)
    if (unitsWithResidual.has(u)) perSampleBytes += out * (rec ? act + 4 : act);
  }
  for (const p of net.head?.params() ?? []) {
    weights += p.value.size;
    if (p.trainable) trainable += p.value.size;
  }
  perSampleBytes += 4 * 4 * net.arch.lastChannels; // pooled features, dropout, their gradients
  return {
    fixedBytes: 4 * (weights + (opts.training ? 3 * trainable : 0)),
    perSampleBytes: Math.ceil(perSampleBytes * SLACK),
    largestTensorBytes,
  };
}

export const estimateBytes = (m: MemoryEstimate, batch: number) => m.fixedBytes + batch * m.perSampleBytes;

/**
 * The largest batch whose step fits `deviceBytes` in all (unknown: no bound) and whose largest tensor
 * fits one buffer of `maxBufferBytes` (0 when not even one image does).
 */
export function largestBatch(m: MemoryEstimate, deviceBytes: number | undefined, maxBufferBytes = Infinity): number {
  const inAll = deviceBytes === undefined ? Infinity : Math.floor((deviceBytes - m.fixedBytes) / m.perSampleBytes);
  return Math.max(0, Math.min(inAll, Math.floor(maxBufferBytes / m.largestTensorBytes)));
}

/** What bounds a batch on this engine, for messages: "24576 MiB of memory and 256 MiB per buffer". */
export function describeMemoryLimits(e: Engine): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return `${e.deviceMemoryBytes !== undefined ? `${mib(e.deviceMemoryBytes)} of memory and ` : ''}${mib(e.maxBufferBytes)} per buffer`;
}

/**
 * Throws a DeviceMemoryError naming what was needed, what the device has and the largest batch that
 * fits, when a step at `batch` would not fit: its largest activation in one buffer of the device's
 * maxBufferSize (always known), or the whole step in the engine's device memory (when known).
 * `what` describes the step, e.g. "a training step at 224x224 (fine-tuning from layer 100)".
 */
export function checkStepMemory(e: Engine, net: MobileNetV2Net, batch: number, opts: StepMemoryOptions & { what: string; batchFlag?: string }): void {
  const device = e.deviceMemoryBytes;
  const m = estimateStepMemory(net, { fusesInputBn: depthwiseFusesInputBn(e), ...opts });
  const need = estimateBytes(m, batch);
  const largest = batch * m.largestTensorBytes;
  const inOne = largest > e.maxBufferBytes;
  if (!inOne && (device === undefined || need <= device)) return;
  const fit = largestBatch(m, device, e.maxBufferBytes);
  const flag = opts.batchFlag ?? '--batch-size';
  const hint =
    fit >= 1
      ? `the largest batch that fits is ${fit} (${flag.startsWith('--') ? `${flag} ${fit}, or ${flag} auto` : `${flag}: ${fit}`})`
      : 'not even one image fits: use a smaller image size or alpha';
  if (inOne) throw new DeviceMemoryError(`${opts.what} at batch ${batch} (its largest activation)`, largest, e.maxBufferBytes, 'in one buffer', hint);
  throw new DeviceMemoryError(`${opts.what} at batch ${batch}`, need, device!, 'in all', hint);
}
