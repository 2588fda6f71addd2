// TFLite MobileNetV2 classifiers (float, uint8 quantization-aware, int8 post-training) → Keras-named
// float weights for MobileNetV2Net.
//
// The graph is walked in execution order and every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED is
// assigned to the next unit of Keras' sequence (Conv1, 17 blocks of [expand,] depthwise, project,
// Conv_1, then the logits as FULLY_CONNECTED or a 1x1 CONV_2D over the pooled features). Tensor names
// are not used for the mapping: converters merge names ("a;b;c") and even mention unrelated layers.
// Every unit's op type, kernel shape and stride is checked, so a graph that is not MobileNetV2 fails
// with the op index and tensor name.
//
// TFLite folds BatchNorm into the conv (kernel·γ/σ, bias β − μγ/σ). We give our units kernel = folded
// kernel, gamma = 1, beta = bias, moving_mean = 0, moving_variance = 1 − ε, so the unit's folded scale
// γ/√(var+ε) is exactly 1 and its shift is the bias. (Fine-tuning such weights trains a BN that starts
// at identity; the moving statistics are not the original ones.)
//
// Layouts: conv OHWI [out,kh,kw,in] → HWIO [kh,kw,in,out]; depthwise [1,kh,kw,C] → [kh,kw,C,1] (same
// data order); FULLY_CONNECTED [out,in] → Dense [in,out]; logits conv [out,1,1,in] → Dense [in,out].
// Dequantisation: real = scale·(q − zero_point), per tensor or per channel (quantized_dimension);
// int32 biases use their own scale, or input_scale·weight_scale when the file has none.
import { architecture, type UnitSpec } from '../nn/architecture.js';
import { MappingError, matchWidth, setFoldedUnit } from './unit-match.js';
import { decodeFloats, halfToFloat } from './npy.js';
import { readTflite, TfliteError, type TfliteModel, type TfliteOperator, type TfliteSubgraph, type TfliteTensor } from './tflite-schema.js';
import { checkIsClean, checkWeights, expectedWeights, fmtShape, formatCheck, type WeightMap } from './weight-map.js';
import { KERAS_ALPHAS } from './tfslim.js';

export interface TfliteImportOptions {
  /** BatchNorm epsilon of the network that will load the weights (Keras: 1e-3). */
  epsilon?: number;
  /** Drop class 0 (`background`) of a 1001-way head, giving Keras' 1000 classes in Keras order. */
  dropBackground?: boolean;
  /** Widths to try (default: Keras' 0.35 … 1.4). */
  alphas?: number[];
}

export interface TfliteQuantInfo {
  type: string;
  scale: number;
  zeroPoint: number;
}

export interface TfliteUnitInfo {
  /** Keras conv (or Dense) layer name. */
  keras: string;
  op: number;
  opcode: string;
  /** The weight tensor's name in the file. */
  tensor: string;
  stride: number;
  activation: string;
}

export interface TfliteImportInfo {
  alpha: number;
  inputSize: number;
  /** Output classes of the head (1001 with background at 0 for TF-Slim/TF2 models, 1000 for Keras), undefined without a head. */
  classes?: number;
  /** True when class 0 is `background` (1001-way head not dropped). */
  background: boolean;
  inputShape: number[];
  inputQuantization: TfliteQuantInfo | null;
  outputQuantization: TfliteQuantInfo | null;
  /** Float range the uint8/int8 input codes stand for, e.g. [-1, 0.992]. */
  inputRange?: [number, number];
  preprocessing: string;
  /** The BN epsilon used to make the folded scale exactly 1. */
  epsilon: number;
  /** Operators seen, by opcode. */
  opCounts: Record<string, number>;
  units: TfliteUnitInfo[];
  /** Oddities that did not stop the import (unexpected fused activations, residual count). */
  warnings: string[];
}

export interface TfliteImport {
  weights: WeightMap;
  info: TfliteImportInfo;
}


const WEIGHT_OPS = new Set(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED']);

class Graph {
  constructor(
    readonly model: TfliteModel,
    readonly sg: TfliteSubgraph,
    readonly file: string,
  ) {}
  tensor(i: number, op: TfliteOperator): TfliteTensor {
    const t = this.sg.tensors[i];
    if (!t) throw new TfliteError(this.file, `operator ${op.index} (${op.opcode}) refers to tensor ${i}, but there are ${this.sg.tensors.length}`);
    return t;
  }
  /** Constant data of a tensor: its own buffer, or the constant input of the DEQUANTIZE that produces it. */
  constant(t: TfliteTensor): { t: TfliteTensor; bytes: Uint8Array } | null {
    const b = this.model.buffers[t.buffer];
    if (b && b.length) return { t, bytes: b };
    const producer = this.sg.operators.find((o) => o.outputs.includes(t.index));
    if (producer?.opcode === 'DEQUANTIZE') {
      const src = this.sg.tensors[producer.inputs[0]];
      const sb = src && this.model.buffers[src.buffer];
      if (sb && sb.length) return { t: src, bytes: sb };
    }
    return null;
  }
  /** Float values of a constant tensor (dequantised). `fallbackScale` per channel for unquantised int32 biases. */
  floats(t: TfliteTensor, op: TfliteOperator, fallbackScale?: number[]): Float32Array {
    const c = this.constant(t);
    if (!c) throw new TfliteError(this.file, `operator ${op.index} (${op.opcode}): tensor ${t.index} "${t.name}" has no constant data`);
    const { t: src, bytes } = c;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const where = `operator ${op.index} (${op.opcode}): tensor "${src.name}" ${src.type}${fmtShape(t.shape)}`;
    const size = { FLOAT32: 4, FLOAT16: 2, INT8: 1, UINT8: 1, INT32: 4, INT16: 2 }[src.type as string];
    if (size === undefined) throw new TfliteError(this.file, `${where}: weight type ${src.type} is not supported`);
    if (bytes.length !== n * size) throw new TfliteError(this.file, `${where}: buffer has ${bytes.length} bytes, expected ${n * size}`);
    if (src.type === 'FLOAT32') return decodeFloats(bytes, 0, n, 4);
    if (src.type === 'FLOAT16') {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    }
    const q = src.quantization;
    let scale: number[];
    let zero: number[];
    let axis = 0;
    if (q) {
      scale = q.scale;
      zero = q.zeroPoint.length ? q.zeroPoint : [0];
      axis = q.quantizedDimension;
    } else if (src.type === 'INT32' && fallbackScale) {
      scale = fallbackScale;
      zero = [0];
    } else throw new TfliteError(this.file, `${where}: quantized tensor without quantization parameters`);
    const channels = scale.length;
    if (channels > 1 && t.shape[axis] !== channels) {
      throw new TfliteError(this.file, `${where}: ${channels} scales but dimension ${axis} has ${t.shape[axis]}`);
    }
    const inner = channels > 1 ? t.shape.slice(axis + 1).reduce((a, b) => a * b, 1) : 1;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const read =
      src.type === 'INT8' ? (i: number) => dv.getInt8(i) : src.type === 'UINT8' ? (i: number) => dv.getUint8(i) : src.type === 'INT16' ? (i: number) => dv.getInt16(i * 2, true) : (i: number) => dv.getInt32(i * 4, true);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const ch = channels > 1 ? Math.floor(i / inner) % channels : 0;
      out[i] = scale[ch] * (read(i) - (zero.length > 1 ? zero[ch] : zero[0]));
    }
    return out;
  }
}

const quantInfo = (t: TfliteTensor | undefined): TfliteQuantInfo | null =>
  t?.quantization ? { type: t.type, scale: t.quantization.scale[0], zeroPoint: t.quantization.zeroPoint[0] ?? 0 } : null;

/** [out, kh, kw, in] → [kh, kw, in, out]. */
function ohwiToHwio(src: Float32Array, o: number, kh: number, kw: number, i: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < i; c++) out[((y * kw + x) * i + c) * o + a] = src[((a * kh + y) * kw + x) * i + c];
  return out;
}

/**
 * Reads a TFLite MobileNetV2 and maps it onto Keras-named float weights. `file` names the model in
 * errors (a truncated or corrupt file throws a TfliteError naming it).
 */
export function importTflite(buffer: ArrayBuffer | ArrayBufferView, file = '<tflite>', opts: TfliteImportOptions = {}): TfliteImport {
  const model = readTflite(buffer, file);
  if (model.subgraphs.length === 0) throw new TfliteError(file, 'model has no subgraph');
  const sg = model.subgraphs[0];
  const g = new Graph(model, sg, file);
  const eps = opts.epsilon ?? 1e-3;
  const opCounts: Record<string, number> = {};
  for (const op of sg.operators) opCounts[op.opcode] = (opCounts[op.opcode] ?? 0) + 1;
  const weightOps = sg.operators.filter((o) => WEIGHT_OPS.has(o.opcode));
  if (weightOps.length === 0) throw new TfliteError(file, 'no CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operators: not a MobileNetV2');

  // Width: the first alpha whose unit sequence fits the ops' kernel shapes.
  const { weights, units, warnings, alpha, headOps } = matchWidth(
    opts.alphas ?? KERAS_ALPHAS,
    (seq) => mapBase(g, weightOps, seq, eps),
    (closest) => new TfliteError(file, closest ? `not a Keras-compatible MobileNetV2 (closest: alpha=${closest.alpha}): ${closest.message}` : 'not a Keras-compatible MobileNetV2: no width fits its kernel shapes'),
  );

  // Head: logits as FULLY_CONNECTED [classes,in] or CONV_2D [classes,1,1,in].
  let classes: number | undefined;
  const lastC = architecture(alpha).lastChannels;
  if (headOps.length > 1) {
    throw new TfliteError(file, `after Conv_1 expected at most one logits op, found ${headOps.map((o) => `${o.index}:${o.opcode}`).join(', ')}`);
  }
  if (headOps.length === 1) {
    const op = headOps[0];
    const wt = g.tensor(op.inputs[1], op);
    const ok = (op.opcode === 'FULLY_CONNECTED' && wt.shape.length === 2 && wt.shape[1] === lastC) || (op.opcode === 'CONV_2D' && wt.shape.length === 4 && wt.shape[1] === 1 && wt.shape[2] === 1 && wt.shape[3] === lastC);
    if (!ok) throw new TfliteError(file, `operator ${op.index} (${op.opcode}) "${wt.name}" ${fmtShape(wt.shape)} is not a logits layer over ${lastC} features`);
    const k = wt.shape[0];
    const kq = g.floats(wt, op);
    const w = new Float32Array(lastC * k);
    for (let o = 0; o < k; o++) for (let i = 0; i < lastC; i++) w[i * k + o] = kq[o * lastC + i];
    const bias = op.inputs[2] >= 0 && op.inputs.length > 2 ? g.floats(g.tensor(op.inputs[2], op), op, biasScales(g, op, wt)) : new Float32Array(k);
    classes = k;
    weights.set('predictions/kernel', { shape: [lastC, k], data: w });
    weights.set('predictions/bias', { shape: [k], data: bias });
    units.push({ keras: 'predictions', op: op.index, opcode: op.opcode, tensor: wt.name, stride: 1, activation: op.options.activation ?? 'NONE' });
    if (op.options.activation && op.options.activation !== 'NONE') warnings.push(`logits op ${op.index} has a fused ${op.options.activation}`);
  }
  let background = classes === 1001;
  if (opts.dropBackground && classes !== undefined) {
    if (classes !== 1001) throw new TfliteError(file, `dropBackground needs a 1001-class head, this one has ${classes}`);
    const k = weights.get('predictions/kernel')!;
    const d = new Float32Array(lastC * 1000);
    for (let i = 0; i < lastC; i++) d.set(k.data.subarray(i * 1001 + 1, (i + 1) * 1001), i * 1000);
    weights.set('predictions/kernel', { shape: [lastC, 1000], data: d });
    weights.set('predictions/bias', { shape: [1000], data: weights.get('predictions/bias')!.data.slice(1) });
    classes = 1000;
    background = false;
  }

  const residuals = architecture(alpha).blocks.filter((b) => b.residual).length;
  if ((opCounts.ADD ?? 0) !== residuals) warnings.push(`${opCounts.ADD ?? 0} ADD operators, MobileNetV2 has ${residuals} residual adds`);

  // Final check against Keras' list (it cannot fail unless the mapping above is wrong).
  const check = checkWeights(weights, expectedWeights(alpha, 224, classes !== undefined, classes ?? 1000));
  if (!checkIsClean(check)) throw new TfliteError(file, `internal mapping error:\n${formatCheck(check)}`);

  const input = sg.tensors[sg.inputs[0]];
  const output = sg.tensors[sg.outputs[0]];
  const inputQuantization = quantInfo(input);
  const inputShape = input?.shape ?? [];
  const inputSize = inputShape.length === 4 ? inputShape[1] : 224;
  let inputRange: [number, number] | undefined;
  let preprocessing: string;
  if (inputQuantization && (input.type === 'UINT8' || input.type === 'INT8')) {
    const lo = input.type === 'UINT8' ? 0 : -128;
    const { scale: s, zeroPoint: z } = inputQuantization;
    inputRange = [s * (lo - z), s * (lo + 255 - z)];
    preprocessing =
      `${input.type} input codes q stand for ${s.toPrecision(6)}·(q − ${z}) ∈ [${inputRange[0].toFixed(4)}, ${inputRange[1].toFixed(4)}]` +
      `${input.type === 'UINT8' ? ' (q = pixel value)' : ''}; the float weights expect pixels scaled to [-1, 1]: x/127.5 − 1 (Keras mobilenet_v2.preprocess_input), RGB, ${inputSize}x${inputSize}.`;
  } else {
    preprocessing = `float input ${fmtShape(inputShape)}; MobileNetV2 weights from TF expect pixels scaled to [-1, 1]: x/127.5 − 1, RGB.`;
  }
  if (background) preprocessing += ' Output class 0 is "background"; class k+1 is Keras class k.';

  return {
    weights,
    info: {
      alpha,
      inputSize,
      classes,
      background,
      inputShape,
      inputQuantization,
      outputQuantization: quantInfo(output),
      inputRange,
      preprocessing,
      epsilon: eps,
      opCounts,
      units,
      warnings,
    },
  };
}

/** Per-channel bias scales (input_scale · weight_scale) for int32 biases stored without parameters. */
function biasScales(g: Graph, op: TfliteOperator, wt: TfliteTensor): number[] | undefined {
  const inS = g.sg.tensors[op.inputs[0]]?.quantization?.scale[0];
  const ws = g.constant(wt)?.t.quantization?.scale;
  return inS !== undefined && ws ? ws.map((s) => s * inS) : undefined;
}

function mapBase(g: Graph, ops: TfliteOperator[], seq: UnitSpec[], eps: number) {
  if (ops.length < seq.length) throw new MappingError(`${ops.length} conv/dense operators, MobileNetV2 needs at least ${seq.length}`, -1);
  const weights: WeightMap = new Map();
  const units: TfliteUnitInfo[] = [];
  const warnings: string[] = [];
  seq.forEach((u, i) => {
    const op = ops[i];
    const wt = g.tensor(op.inputs[1], op);
    const s = wt.shape;
    const where = `operator ${op.index} (${op.opcode}) "${wt.name}" ${fmtShape(s)} should be ${u.conv}`;
    if (u.kind === 'depthwise') {
      if (op.opcode !== 'DEPTHWISE_CONV_2D') throw new MappingError(`${where}: expected DEPTHWISE_CONV_2D`, i);
      if (!(s.length === 4 && s[0] === 1 && s[1] === 3 && s[2] === 3 && s[3] === u.outC)) throw new MappingError(`${where}: expected [1,3,3,${u.outC}]`, i);
      if ((op.options.depthMultiplier ?? 1) !== 1 && op.options.depthMultiplier !== 0) throw new MappingError(`${where}: depth_multiplier ${op.options.depthMultiplier}`, i);
    } else {
      const k = u.kind === 'conv3x3' ? 3 : 1;
      if (op.opcode !== 'CONV_2D') throw new MappingError(`${where}: expected CONV_2D`, i);
      if (!(s.length === 4 && s[0] === u.outC && s[1] === k && s[2] === k && s[3] === u.inC)) throw new MappingError(`${where}: expected [${u.outC},${k},${k},${u.inC}]`, i);
    }
    if (op.options.strideH !== u.stride || op.options.strideW !== u.stride) throw new MappingError(`${where}: stride ${op.options.strideH}x${op.options.strideW}, expected ${u.stride}`, i);
    if ((op.options.dilationH ?? 1) !== 1 || (op.options.dilationW ?? 1) !== 1) throw new MappingError(`${where}: dilated`, i);
    const act = op.options.activation ?? 'NONE';
    if (act !== (u.activation === 'relu6' ? 'RELU6' : 'NONE')) warnings.push(`${u.conv} (operator ${op.index}) has fused activation ${act}, expected ${u.activation === 'relu6' ? 'RELU6' : 'NONE'}`);

    const raw = g.floats(wt, op);
    const kernel =
      u.kind === 'depthwise'
        ? { name: `${u.conv}/depthwise_kernel`, shape: [3, 3, u.outC, 1], data: raw }
        : u.kind === 'conv3x3'
          ? { name: `${u.conv}/kernel`, shape: [3, 3, u.inC, u.outC], data: ohwiToHwio(raw, u.outC, 3, 3, u.inC) }
          : { name: `${u.conv}/kernel`, shape: [1, 1, u.inC, u.outC], data: ohwiToHwio(raw, u.outC, 1, 1, u.inC) };
    const hasBias = op.inputs.length > 2 && op.inputs[2] >= 0;
    const bias = hasBias ? g.floats(g.tensor(op.inputs[2], op), op, biasScales(g, op, wt)) : new Float32Array(u.outC);
    setFoldedUnit(weights, u, kernel, bias, eps, where, i);
    units.push({ keras: u.conv, op: op.index, opcode: op.opcode, tensor: wt.name, stride: u.stride, activation: act });
  });
  return { weights, units, warnings, headOps: ops.slice(seq.length) };
}
