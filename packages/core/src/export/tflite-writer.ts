// A TFLite writer: the flatbuffer of `tflite/schema.fbs` (file identifier "TFL3", schema version 3)
// for the graphs we export, plus MobileNetV2 as a TFLite graph built from Keras-named weights in our
// layouts (docs/CONVENTIONS.md), derived from `units()` like the ONNX writer. Float32, or full-integer
// int8 post-training quantization as TFLite's converter does it: weights int8 symmetric (per output
// channel for convolutions, per tensor for fully-connected layers), biases int32 at input scale ×
// weight scale, activations int8 asymmetric per tensor from calibrated ranges, uint8 or int8 model
// input/output (a QUANTIZE op converts at the edges). BatchNorm is folded into the convolutions,
// ReLU6 fused into them. Platform-neutral: bytes in, bytes out.
// Field ids (see io/tflite-schema.ts for the reader side):
//   Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4
//   OperatorCode: deprecated_builtin_code 0, custom_code 1, version 2, builtin_code 3
//   SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4
//   Tensor: shape 0, type 1, buffer 2, name 3, quantization 4
//   QuantizationParameters: min 0, max 1, scale 2, zero_point 3, quantized_dimension 6
//   Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4
//   Buffer: data 0 (aligned to 16)
import { Builder } from 'flatbuffers';
import { architecture, blockPrefix, units, type BlockSpec, type UnitSpec } from '../nn/architecture.js';
import { gptqRound, inputMatrix, patchMatrix, roundChannel, type RoundingMoments } from './tflite-rounding.js';

// ---------------------------------------------------------------- the flatbuffer

export type TfliteWriterType = 'FLOAT32' | 'INT32' | 'UINT8' | 'INT8';
const TYPE_CODE: Record<TfliteWriterType, number> = { FLOAT32: 0, INT32: 2, UINT8: 3, INT8: 9 };

export interface TfliteWriterQuant {
  scale: number[];
  zeroPoint: number[];
  /** Axis of a per-channel quantization (default 0). */
  dimension?: number;
  /** The calibrated float range (informational, as the converter writes it). */
  min?: number[];
  max?: number[];
}

export interface TfliteWriterTensor {
  name: string;
  shape: number[];
  type: TfliteWriterType;
  /** Constant data, little-endian (weights, biases, axes); activations have none. */
  data?: Uint8Array;
  quant?: TfliteWriterQuant;
}

export type TfliteActivation = 'NONE' | 'RELU' | 'RELU6';
const ACT_CODE: Record<TfliteActivation, number> = { NONE: 0, RELU: 1, RELU6: 3 };

export type TfliteWriterOp =
  | { op: 'CONV_2D'; inputs: number[]; outputs: number[]; stride: number; activation: TfliteActivation }
  | { op: 'DEPTHWISE_CONV_2D'; inputs: number[]; outputs: number[]; stride: number; activation: TfliteActivation }
  | { op: 'ADD'; inputs: number[]; outputs: number[] }
  | { op: 'MEAN'; inputs: number[]; outputs: number[] }
  | { op: 'FULLY_CONNECTED'; inputs: number[]; outputs: number[]; activation: TfliteActivation }
  | { op: 'SOFTMAX'; inputs: number[]; outputs: number[] }
  | { op: 'QUANTIZE'; inputs: number[]; outputs: number[] };

export interface TfliteWriterGraph {
  tensors: TfliteWriterTensor[];
  ops: TfliteWriterOp[];
  inputs: number[];
  outputs: number[];
  description?: string;
}

/** Builtin operator codes and BuiltinOptions union types of schema.fbs. */
const OPS: Record<TfliteWriterOp['op'], { code: number; options: number }> = {
  ADD: { code: 0, options: 11 }, // AddOptions
  CONV_2D: { code: 3, options: 1 }, // Conv2DOptions
  DEPTHWISE_CONV_2D: { code: 4, options: 2 }, // DepthwiseConv2DOptions
  FULLY_CONNECTED: { code: 9, options: 8 }, // FullyConnectedOptions
  SOFTMAX: { code: 25, options: 9 }, // SoftmaxOptions
  MEAN: { code: 40, options: 27 }, // ReducerOptions
  QUANTIZE: { code: 114, options: 89 }, // QuantizeOptions
};

/** Operator versions TFLite's converter writes for int8 kernels (float kernels are version 1). */
const INT8_VERSION: Record<TfliteWriterOp['op'], number> = { ADD: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 3, FULLY_CONNECTED: 4, SOFTMAX: 2, MEAN: 2, QUANTIZE: 2 };

const SCHEMA_VERSION = 3;
const PADDING_SAME = 0;

/** The builder's private cursor, to copy large constant data in one `set` instead of byte by byte. */
interface BuilderInternals {
  space: number;
  bb: { bytes(): Uint8Array };
}

function byteVector(b: Builder, data: Uint8Array): number {
  b.startVector(1, data.length, 16);
  const inner = b as unknown as BuilderInternals;
  inner.space -= data.length;
  inner.bb.bytes().set(data, inner.space);
  return b.endVector();
}

function intVector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
  return b.endVector();
}

function floatVector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]);
  return b.endVector();
}

function longVector(b: Builder, values: readonly number[]): number {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]));
  return b.endVector();
}

function offsetVector(b: Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

/** One field of an operator's builtin-options table: [field id, kind, value] (always written). */
export type TfliteOptionField = [id: number, kind: 'i8' | 'i32' | 'f32', value: number];

/** The options fields of schema.fbs for our ops (Conv2DOptions, DepthwiseConv2DOptions, …). */
function optionFields(o: TfliteWriterOp): TfliteOptionField[] {
  switch (o.op) {
    case 'CONV_2D': // padding, stride_w, stride_h, fused_activation_function, dilation_w, dilation_h
      return [[0, 'i8', PADDING_SAME], [1, 'i32', o.stride], [2, 'i32', o.stride], [3, 'i8', ACT_CODE[o.activation]], [4, 'i32', 1], [5, 'i32', 1]];
    case 'DEPTHWISE_CONV_2D': // padding, stride_w, stride_h, depth_multiplier, fused_activation_function, dilation_w, dilation_h
      return [[0, 'i8', PADDING_SAME], [1, 'i32', o.stride], [2, 'i32', o.stride], [3, 'i32', 1], [4, 'i8', ACT_CODE[o.activation]], [5, 'i32', 1], [6, 'i32', 1]];
    case 'FULLY_CONNECTED': // fused_activation_function, weights_format DEFAULT, keep_num_dims false
      return [[0, 'i8', ACT_CODE[o.activation]], [1, 'i8', 0], [2, 'i8', 0]];
    case 'ADD':
      return [[0, 'i8', ACT_CODE.NONE]];
    case 'MEAN': // keep_dims false
      return [[0, 'i8', 0]];
    case 'SOFTMAX': // beta
      return [[0, 'f32', 1]];
    case 'QUANTIZE':
      return [];
  }
}

/** A tensor by schema codes (TensorType: 0 FLOAT32, 1 FLOAT16, 2 INT32, 3 UINT8, 9 INT8, …). */
export interface TfliteRawTensor {
  name: string;
  shape: number[];
  type: number;
  data?: Uint8Array;
  quant?: TfliteWriterQuant;
}

/** An operator by builtin code, with its BuiltinOptions union type and table fields. */
export interface TfliteRawOp {
  code: number;
  /** Operator version (default 1). */
  version?: number;
  inputs: number[];
  outputs: number[];
  options?: { type: number; fields: TfliteOptionField[] };
}

export interface TfliteRawGraph {
  tensors: TfliteRawTensor[];
  ops: TfliteRawOp[];
  inputs: number[];
  outputs: number[];
  description?: string;
}

/**
 * The flatbuffer of a one-subgraph model from schema codes, unchecked: what `encodeTflite` writes
 * after checking a typed graph, and what tests use to write the graphs other converters write (other
 * ops and types, odd options) for our importer.
 */
export function encodeTfliteRaw(g: TfliteRawGraph): Uint8Array {
  const b = new Builder(1 << 20);
  // Buffers: 0 is the empty sentinel; one per constant tensor.
  const bufferData: (Uint8Array | null)[] = [null];
  const tensorBuffer = g.tensors.map((t) => {
    if (!t.data) return 0;
    bufferData.push(t.data);
    return bufferData.length - 1;
  });
  const buffers = bufferData.map((d) => {
    const data = d ? byteVector(b, d) : 0;
    b.startObject(3);
    if (d) b.addFieldOffset(0, data, 0);
    return b.endObject();
  });
  const tensors = g.tensors.map((t, i) => {
    const name = b.createString(t.name);
    const shape = intVector(b, t.shape);
    let quant = 0;
    if (t.quant) {
      const q = t.quant;
      const min = q.min ? floatVector(b, q.min) : 0;
      const max = q.max ? floatVector(b, q.max) : 0;
      const scale = floatVector(b, q.scale);
      const zp = longVector(b, q.zeroPoint);
      b.startObject(7);
      if (min) b.addFieldOffset(0, min, 0);
      if (max) b.addFieldOffset(1, max, 0);
      b.addFieldOffset(2, scale, 0);
      b.addFieldOffset(3, zp, 0);
      b.addFieldInt32(6, q.dimension ?? 0, -1);
      quant = b.endObject();
    }
    b.startObject(8);
    b.addFieldOffset(0, shape, 0);
    b.addFieldInt8(1, t.type, -1);
    b.addFieldInt32(2, tensorBuffer[i], -1);
    b.addFieldOffset(3, name, 0);
    if (quant) b.addFieldOffset(4, quant, 0);
    return b.endObject();
  });

  // Operator codes in order of first use, each with the highest version its ops ask for.
  const codes = [...new Set(g.ops.map((o) => o.code))];
  const operatorCodes = codes.map((code) => {
    const version = Math.max(...g.ops.filter((o) => o.code === code).map((o) => o.version ?? 1));
    b.startObject(4);
    b.addFieldInt8(0, Math.min(code, 127), -1); // deprecated_builtin_code (127 = "look at builtin_code")
    b.addFieldInt32(2, version, -1);
    b.addFieldInt32(3, code, -1);
    return b.endObject();
  });
  const operators = g.ops.map((o) => {
    const inputs = intVector(b, o.inputs);
    const outputs = intVector(b, o.outputs);
    let options = 0;
    if (o.options) {
      b.startObject(o.options.fields.reduce((m, [id]) => Math.max(m, id + 1), 0));
      for (const [id, kind, v] of o.options.fields) {
        // Defaults that never equal the value: every field is written, as the converter does.
        if (kind === 'i8') b.addFieldInt8(id, v, v + 1);
        else if (kind === 'i32') b.addFieldInt32(id, v, v + 1);
        else b.addFieldFloat32(id, v, v + 1);
      }
      options = b.endObject();
    }
    b.startObject(5);
    b.addFieldInt32(0, codes.indexOf(o.code), -1);
    b.addFieldOffset(1, inputs, 0);
    b.addFieldOffset(2, outputs, 0);
    if (o.options) {
      b.addFieldInt8(3, o.options.type, -1);
      b.addFieldOffset(4, options, 0);
    }
    return b.endObject();
  });
  const sgTensors = offsetVector(b, tensors);
  const sgInputs = intVector(b, g.inputs);
  const sgOutputs = intVector(b, g.outputs);
  const sgOps = offsetVector(b, operators);
  const sgName = b.createString('main');
  b.startObject(5);
  b.addFieldOffset(0, sgTensors, 0);
  b.addFieldOffset(1, sgInputs, 0);
  b.addFieldOffset(2, sgOutputs, 0);
  b.addFieldOffset(3, sgOps, 0);
  b.addFieldOffset(4, sgName, 0);
  const subgraph = b.endObject();

  const opCodes = offsetVector(b, operatorCodes);
  const subgraphs = offsetVector(b, [subgraph]);
  const description = b.createString(g.description ?? 'mnv2');
  const bufs = offsetVector(b, buffers);
  b.startObject(5);
  b.addFieldInt32(0, SCHEMA_VERSION, -1);
  b.addFieldOffset(1, opCodes, 0);
  b.addFieldOffset(2, subgraphs, 0);
  b.addFieldOffset(3, description, 0);
  b.addFieldOffset(4, bufs, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}

/** Serialises a graph as a .tflite file (one subgraph), after checking data sizes, quantization and tensor indices. */
export function encodeTflite(g: TfliteWriterGraph): Uint8Array {
  const quantized = g.tensors.some((t) => t.type === 'INT8');
  for (const t of g.tensors) {
    const expected = t.shape.reduce((a, c) => a * c, 1) * (t.type === 'FLOAT32' || t.type === 'INT32' ? 4 : 1);
    if (t.data && t.data.length !== expected) throw new Error(`tflite: tensor '${t.name}' [${t.shape}] ${t.type} has ${t.data.length} bytes, expected ${expected}`);
    const q = t.quant;
    if (q && (q.scale.length !== q.zeroPoint.length || q.scale.some((s) => !(s > 0) || !Number.isFinite(s)))) throw new Error(`tflite: tensor '${t.name}' has invalid quantization (scales ${q.scale.slice(0, 4)}…)`);
  }
  for (const o of g.ops) for (const i of [...o.inputs, ...o.outputs]) if (!(i >= 0 && i < g.tensors.length)) throw new Error(`tflite: ${o.op} refers to tensor ${i} of ${g.tensors.length}`);
  return encodeTfliteRaw({
    tensors: g.tensors.map((t) => ({ ...t, type: TYPE_CODE[t.type] })),
    ops: g.ops.map((o) => ({ code: OPS[o.op].code, version: quantized ? INT8_VERSION[o.op] : 1, inputs: o.inputs, outputs: o.outputs, options: { type: OPS[o.op].options, fields: optionFields(o) } })),
    inputs: g.inputs,
    outputs: g.outputs,
    description: g.description,
  });
}

// ---------------------------------------------------------------- MobileNetV2 → TFLite

/** Calibrated float range [min, max] of each activation, by the tensor names `mobileNetV2Tflite` uses. */
export type ActivationRanges = Map<string, [number, number]>;

export interface TfliteQuantizeOptions {
  ranges: ActivationRanges;
  /** Model input type (default 'int8'): 'uint8' takes raw pixels (scale 2/255, zero point 128). */
  inputType?: 'int8' | 'uint8';
  /** Model output type (default 'int8'). */
  outputType?: 'int8' | 'uint8';
  /**
   * Per-channel means of the activations (`channelMeans` of the calibration): with them each
   * convolution's bias absorbs the mean error its int8 weights make on its input, E[(W − Wq)·x]
   * (bias correction). The file format is unchanged.
   */
  means?: Map<string, Float64Array>;
  /**
   * Input moments of the depthwise and pointwise layers (calibration's `moments`): with them the
   * weights are rounded up or down to reduce each layer's output error on the calibration inputs
   * (adaptive rounding, tflite-rounding.ts) instead of to the nearest code. Same file format.
   */
  moments?: RoundingMoments;
}

export interface MobileNetV2TfliteOptions {
  alpha: number;
  inputSize: number;
  /** Weight values by Keras name in our layouts (as for `mobileNetV2Onnx`). */
  weight: (name: string) => Float32Array;
  head: { classes: number; hidden?: number | null; hiddenName?: string; denseName?: string; softmax?: boolean };
  epsilon?: number; // BatchNorm epsilon, default 1e-3
  /** Full-integer int8 (calibrated); float32 when absent. */
  quantize?: TfliteQuantizeOptions;
  description?: string;
}

/**
 * The names of the activation tensors of the exported graph, in graph order: what calibration must
 * measure. The input is fixed to [-1, 1]; `softmax` is fixed too.
 */
export function tfliteActivationNames(alpha: number, head: { hidden?: number | null; hiddenName?: string; denseName?: string }): string[] {
  const names: string[] = [];
  let block: BlockSpec | undefined;
  for (const u of units(architecture(alpha))) {
    if (u.block !== block) block = u.block;
    names.push(unitOutputName(u));
    if (u.block?.residual && !u.relu) names.push(`${blockPrefix(u.block.index)}_add`);
  }
  names.push('global_average_pooling2d');
  if (head.hidden) names.push(head.hiddenName ?? 'dense');
  names.push(head.denseName ?? 'predictions');
  return names;
}

/** The tensor a conv → BN (→ ReLU6) unit writes: named after its last Keras layer. */
export const unitOutputName = (u: UnitSpec) => u.relu ?? u.bn;

/** Input quantization: [-1, 1] as 256 steps of 2/255; uint8 codes are the raw pixel values. */
const INPUT_SCALE = 2 / 255;

const f32bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const i32bytes = (a: Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const i8bytes = (a: Int8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Asymmetric int8 parameters of a float range (the range is widened to hold 0, as TFLite requires). */
export function activationQuant(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1 / 255;
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale, zeroPoint };
}

const INT32_MAX = 2147483647;

/** int32 biases at scale inputScale × weight scale (the scales already leave room for them). */
function int32Bias(bias: Float64Array, inputScale: number, scales: number[], what: string): Int32Array {
  return Int32Array.from(bias, (v, c) => {
    const b = Math.round(v / (inputScale * scales[c]));
    if (Math.abs(b) > INT32_MAX) throw new Error(`tflite: the bias of '${what}' channel ${c} does not fit int32 at its scale`);
    return b;
  });
}

/** Symmetric int8 weights, per output channel (`channels` groups of `perChannel` values at stride given by `index`). */
function quantizeWeights(
  w: Float32Array,
  channels: number,
  index: (c: number, j: number) => number,
  perChannel: number,
  inputScale: number,
  bias: Float64Array,
): { q: Int8Array; scales: number[]; bias: Int32Array } {
  const q = new Int8Array(w.length);
  const scales: number[] = [];
  const qb = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    let m = 0;
    for (let j = 0; j < perChannel; j++) m = Math.max(m, Math.abs(w[index(c, j)]));
    let s = m > 0 ? m / 127 : 1;
    // The int32 bias must hold bias / (inputScale · s): widen s when it would not (as the converter does).
    s = Math.max(s, Math.abs(bias[c]) / (inputScale * INT32_MAX));
    scales.push(s);
    for (let j = 0; j < perChannel; j++) {
      const i = index(c, j);
      q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / s)));
    }
    qb[c] = Math.round(bias[c] / (inputScale * s));
  }
  return { q, scales, bias: qb };
}

/**
 * MobileNetV2 as a TFLite graph: input `input` [1,S,S,3] in [-1,1] (x / 127.5 − 1; int8/uint8 codes
 * when quantized), output the head's logits (`probabilities` with softmax).
 */
export function mobileNetV2Tflite(o: MobileNetV2TfliteOptions): TfliteWriterGraph {
  const arch = architecture(o.alpha);
  const eps = o.epsilon ?? 1e-3;
  const qo = o.quantize;
  const tensors: TfliteWriterTensor[] = [];
  const ops: TfliteWriterOp[] = [];
  const add = (t: TfliteWriterTensor) => tensors.push(t) - 1;
  const get = (name: string, n: number) => {
    const w = o.weight(name);
    if (!w || w.length !== n) throw new Error(`tflite: weight '${name}' has ${w ? w.length : 'no'} values, expected ${n}`);
    return w;
  };
  const range = (name: string): [number, number] => {
    const r = qo!.ranges.get(name);
    if (!r || !Number.isFinite(r[0]) || !Number.isFinite(r[1])) throw new Error(`tflite: no calibrated range for activation '${name}'`);
    return r;
  };
  /** An activation tensor: float, or int8 with its calibrated parameters. */
  const activation = (name: string, shape: number[]) => {
    if (!qo) return add({ name, shape, type: 'FLOAT32' });
    const [min, max] = range(name);
    const { scale, zeroPoint } = activationQuant(min, max);
    return add({ name, shape, type: 'INT8', quant: { scale: [scale], zeroPoint: [zeroPoint], min: [min], max: [max] } });
  };
  const scaleOf = (t: number) => tensors[t].quant!.scale[0];

  const S = o.inputSize;
  let x: number;
  let modelInput: number;
  if (!qo) modelInput = x = add({ name: 'input', shape: [1, S, S, 3], type: 'FLOAT32' });
  else {
    const int8 = { scale: [INPUT_SCALE], zeroPoint: [0], min: [-1], max: [1] };
    if ((qo.inputType ?? 'int8') === 'uint8') {
      modelInput = add({ name: 'input', shape: [1, S, S, 3], type: 'UINT8', quant: { ...int8, zeroPoint: [128] } });
      x = add({ name: 'input_int8', shape: [1, S, S, 3], type: 'INT8', quant: int8 });
      ops.push({ op: 'QUANTIZE', inputs: [modelInput], outputs: [x] });
    } else modelInput = x = add({ name: 'input', shape: [1, S, S, 3], type: 'INT8', quant: int8 });
  }

  let size = S;
  const unit = (u: UnitSpec) => {
    const { kind, inC, outC, stride } = u;
    const gamma = get(`${u.bn}/gamma`, outC);
    const beta = get(`${u.bn}/beta`, outC);
    const mean = get(`${u.bn}/moving_mean`, outC);
    const variance = get(`${u.bn}/moving_variance`, outC);
    const scale = new Float64Array(outC);
    const bias = new Float64Array(outC);
    for (let c = 0; c < outC; c++) {
      scale[c] = gamma[c] / Math.sqrt(variance[c] + eps);
      bias[c] = beta[c] - mean[c] * scale[c];
    }
    // Folded kernel in TFLite's layout: conv OHWI [outC,kh,kw,inC]; depthwise [1,kh,kw,C].
    const k = kind === 'pointwise' ? 1 : 3;
    let w: Float32Array;
    let shape: number[];
    let perChannel: number;
    let index: (c: number, j: number) => number;
    if (kind === 'depthwise') {
      const src = get(`${u.conv}/depthwise_kernel`, 9 * inC); // [3,3,C]: already [1,3,3,C]
      w = new Float32Array(9 * inC);
      for (let t = 0; t < 9; t++) for (let c = 0; c < inC; c++) w[t * inC + c] = src[t * inC + c] * scale[c];
      shape = [1, 3, 3, inC];
      perChannel = 9;
      index = (c, j) => j * inC + c;
    } else {
      const taps = k * k;
      const src = get(`${u.conv}/kernel`, taps * inC * outC); // [kh,kw,cin,cout] (pointwise [cin,cout])
      w = new Float32Array(taps * inC * outC);
      for (let t = 0; t < taps; t++) for (let i = 0; i < inC; i++) for (let c = 0; c < outC; c++) w[(c * taps + t) * inC + i] = src[(t * inC + i) * outC + c] * scale[c];
      shape = [outC, k, k, inC];
      perChannel = taps * inC;
      index = (c, j) => c * perChannel + j;
    }
    const activationFn: TfliteActivation = u.relu ? 'RELU6' : 'NONE';
    size = k === 3 ? Math.ceil(size / stride) : size;
    const y = activation(unitOutputName(u), [1, size, size, outC]);
    let wt: number;
    let bt: number;
    if (!qo) {
      wt = add({ name: `${u.conv}/kernel_folded`, shape, type: 'FLOAT32', data: f32bytes(w) });
      bt = add({ name: `${u.conv}/bias_folded`, shape: [outC], type: 'FLOAT32', data: f32bytes(Float32Array.from(bias)) });
    } else {
      const sIn = scaleOf(x);
      let q = quantizeWeights(w, outC, index, perChannel, sIn, bias);
      const inMean = qo.means?.get(tensors[x].name === 'input_int8' ? 'input' : tensors[x].name);
      // Adaptive rounding (tflite-rounding.ts): codes that reduce the layer's output error on the
      // calibration inputs (the covariance when bias correction then removes the mean error).
      const dm = kind === 'depthwise' ? qo.moments?.depthwise.get(u.conv) : undefined;
      const pm = kind === 'pointwise' ? qo.moments?.pointwise.get(u.conv) : undefined;
      if (dm) {
        if (dm.channels !== outC) throw new Error(`tflite: patch moments of '${u.conv}' have ${dm.channels} channels, expected ${outC}`);
        for (let c = 0; c < outC; c++) roundChannel((t) => w[index(c, t)], q.scales[c], patchMatrix(dm, c, !!inMean), q.q, (t) => index(c, t));
      }
      if (pm) {
        if (pm.channels !== inC) throw new Error(`tflite: input moments of '${u.conv}' have ${pm.channels} channels, expected ${inC}`);
        q.q = gptqRound(w, outC, inC, q.scales, inputMatrix(pm, !!inMean));
      }
      const adaptive = !!(dm || pm);
      if (adaptive && !inMean) q.bias = int32Bias(bias, sIn, q.scales, u.conv);
      if (inMean) {
        // Bias correction: the output's expected shift from rounding the weights, E[(W − Wq)·x].
        const corrected = Float64Array.from(bias);
        for (let c = 0; c < outC; c++) {
          const s = q.scales[c];
          let err = 0;
          for (let j = 0; j < perChannel; j++) {
            const i = index(c, j);
            const inC = kind === 'depthwise' ? c : i % u.inC;
            err += (w[i] - q.q[i] * s) * inMean[inC];
          }
          corrected[c] += err;
        }
        if (adaptive) q.bias = int32Bias(corrected, sIn, q.scales, u.conv);
        else q = quantizeWeights(w, outC, index, perChannel, sIn, corrected);
      }
      const dimension = kind === 'depthwise' ? 3 : 0;
      wt = add({ name: `${u.conv}/kernel_folded`, shape, type: 'INT8', data: i8bytes(q.q), quant: { scale: q.scales, zeroPoint: q.scales.map(() => 0), dimension } });
      bt = add({ name: `${u.conv}/bias_folded`, shape: [outC], type: 'INT32', data: i32bytes(q.bias), quant: { scale: q.scales.map((s) => s * sIn), zeroPoint: q.scales.map(() => 0), dimension: 0 } });
    }
    ops.push({ op: kind === 'depthwise' ? 'DEPTHWISE_CONV_2D' : 'CONV_2D', inputs: [x, wt, bt], outputs: [y], stride, activation: activationFn });
    x = y;
  };

  let blockIn = x;
  let block: BlockSpec | undefined;
  for (const u of units(arch)) {
    if (u.block !== block) [block, blockIn] = [u.block, x];
    unit(u);
    if (u.block?.residual && !u.relu) {
      const sum = activation(`${blockPrefix(u.block.index)}_add`, [1, size, size, u.outC]);
      ops.push({ op: 'ADD', inputs: [blockIn, x], outputs: [sum] });
      x = sum;
    }
  }

  // Head: mean over H, W → [hidden Dense + ReLU] → Dense.
  const axes = add({ name: 'reduction_axes', shape: [2], type: 'INT32', data: i32bytes(Int32Array.from([1, 2])) });
  const pooled = activation('global_average_pooling2d', [1, arch.lastChannels]);
  ops.push({ op: 'MEAN', inputs: [x, axes], outputs: [pooled] });
  x = pooled;
  let inN = arch.lastChannels;
  const dense = (name: string, outN: number, act: TfliteActivation) => {
    const src = get(`${name}/kernel`, inN * outN); // [in,out]
    const b = get(`${name}/bias`, outN);
    const w = new Float32Array(inN * outN); // TFLite: [out,in]
    for (let i = 0; i < inN; i++) for (let c = 0; c < outN; c++) w[c * inN + i] = src[i * outN + c];
    const y = activation(name, [1, outN]);
    let wt: number;
    let bt: number;
    if (!qo) {
      wt = add({ name: `${name}/kernel`, shape: [outN, inN], type: 'FLOAT32', data: f32bytes(w) });
      bt = add({ name: `${name}/bias`, shape: [outN], type: 'FLOAT32', data: f32bytes(Float32Array.from(b)) });
    } else {
      // Per-tensor weights for fully-connected layers (what the converter writes by default).
      const sIn = scaleOf(x);
      const whole = quantizeWeights(w, 1, (_c, j) => j, w.length, sIn, Float64Array.from([Math.max(...Array.from(b, Math.abs))]));
      const s = whole.scales[0];
      wt = add({ name: `${name}/kernel`, shape: [outN, inN], type: 'INT8', data: i8bytes(whole.q), quant: { scale: [s], zeroPoint: [0] } });
      const qb = Int32Array.from(b, (v) => Math.round(v / (sIn * s)));
      bt = add({ name: `${name}/bias`, shape: [outN], type: 'INT32', data: i32bytes(qb), quant: { scale: [sIn * s], zeroPoint: [0] } });
    }
    ops.push({ op: 'FULLY_CONNECTED', inputs: [x, wt, bt], outputs: [y], activation: act });
    x = y;
    inN = outN;
  };
  if (o.head.hidden) dense(o.head.hiddenName ?? 'dense', o.head.hidden, 'RELU');
  dense(o.head.denseName ?? 'predictions', o.head.classes, 'NONE');
  if (o.head.softmax) {
    // int8 softmax output: fixed scale 1/256, zero point −128 (TFLite's requirement).
    const y = add(qo ? { name: 'probabilities', shape: [1, o.head.classes], type: 'INT8', quant: { scale: [1 / 256], zeroPoint: [-128] } } : { name: 'probabilities', shape: [1, o.head.classes], type: 'FLOAT32' });
    ops.push({ op: 'SOFTMAX', inputs: [x], outputs: [y] });
    x = y;
  }
  if (qo && qo.outputType === 'uint8') {
    const q = tensors[x].quant!;
    const y = add({ name: `${tensors[x].name}_uint8`, shape: tensors[x].shape, type: 'UINT8', quant: { scale: q.scale, zeroPoint: q.zeroPoint.map((z) => z + 128) } });
    ops.push({ op: 'QUANTIZE', inputs: [x], outputs: [y] });
    x = y;
  }
  return { tensors, ops, inputs: [modelInput], outputs: [x], description: o.description ?? `mnv2 MobileNetV2 alpha ${o.alpha} ${S}x${S}${qo ? ' int8' : ''}` };
}
