// A minimal ONNX writer: protobuf encoding of ModelProto / GraphProto / NodeProto / AttributeProto /
// TensorProto / ValueInfoProto (field numbers from onnx/onnx.proto), plus MobileNetV2 as an ONNX graph
// built from Keras-named weights in our layouts (docs/CONVENTIONS.md). Used by `mnv2 bench infer` to
// give ONNX Runtime the same network (and the same weights) as ours, by `mnv2 export --onnx`, and by
// the web worker's ONNX download. Platform-neutral (no node: or DOM imports).
// The writer's graph types are OnnxWriter* so they don't clash with the reader's (io/onnx.ts).
// Opset 13, IR version 7; weights as raw little-endian initializers.
import { architecture, blockPrefix, units, type BlockSpec, type UnitSpec } from '../nn/architecture.js';
import type { PaddingMode } from '../ops/conv/index.js';
import { encodeUtf8 } from '../io/utf8.js';

// ---------------------------------------------------------------- protobuf encoding

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Append-only protobuf message writer: small fields go to a byte list, big payloads stay chunks. */
class Pb {
  private chunks: Uint8Array[] = [];
  private bytes: number[] = [];

  private flushBytes(): void {
    if (this.bytes.length) {
      this.chunks.push(Uint8Array.from(this.bytes));
      this.bytes = [];
    }
  }

  private rawVarint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) {
      while (v >= 0x80) {
        this.bytes.push((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.bytes.push(v);
      return;
    }
    // negative int64 / huge values: 64-bit two's complement, 10 bytes for negatives
    let b = BigInt.asUintN(64, BigInt(v));
    while (b >= 0x80n) {
      this.bytes.push(Number(b & 0x7fn) | 0x80);
      b >>= 7n;
    }
    this.bytes.push(Number(b));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes.push(...b);
    return this;
  }

  data(field: number, payload: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(payload.length);
    if (payload.length < 256) this.bytes.push(...payload);
    else {
      this.flushBytes();
      this.chunks.push(payload);
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.data(field, encodeUtf8(s));
  }

  message(field: number, m: Pb): this {
    return this.data(field, m.finish());
  }

  finish(): Uint8Array {
    this.flushBytes();
    if (this.chunks.length === 1) return this.chunks[0];
    const n = this.chunks.reduce((s, c) => s + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    this.chunks = [out];
    return out;
  }
}

// ---------------------------------------------------------------- ONNX model types

export type OnnxWriterAttribute =
  | { type: 'int'; value: number }
  | { type: 'ints'; value: number[] }
  | { type: 'float'; value: number }
  | { type: 'floats'; value: number[] }
  | { type: 'string'; value: string };

/** Attribute constructors (ONNX distinguishes int from float attributes, so say which). */
export const attr = {
  int: (value: number): OnnxWriterAttribute => ({ type: 'int', value }),
  ints: (value: number[]): OnnxWriterAttribute => ({ type: 'ints', value }),
  float: (value: number): OnnxWriterAttribute => ({ type: 'float', value }),
  floats: (value: number[]): OnnxWriterAttribute => ({ type: 'floats', value }),
  string: (value: string): OnnxWriterAttribute => ({ type: 'string', value }),
};

export interface OnnxWriterNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, OnnxWriterAttribute>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

export interface OnnxValueInfo {
  name: string;
  /** Numbers are fixed sizes, strings symbolic ones (e.g. 'N' for the batch). */
  dims: (number | string)[];
  /** TensorProto.DataType; 1 = FLOAT (the default). */
  elemType?: number;
}

export interface OnnxWriterGraph {
  name: string;
  nodes: OnnxWriterNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModelOptions {
  opset?: number; // default 13
  irVersion?: number; // default 7 (the IR version of opset 13)
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** ModelProto.metadata_props: free key/value strings (e.g. class names, preprocessing). */
  metadata?: Record<string, string>;
}

// TensorProto.DataType and AttributeProto.AttributeType values
const DT_FLOAT = 1;
const DT_INT32 = 6;
const DT_INT64 = 7;
const AT = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function tensorProto(t: OnnxInitializer): Pb {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (n !== t.data.length) throw new Error(`onnx: initializer '${t.name}' has ${t.data.length} values for dims [${t.dims}] (${n})`);
  if (!LITTLE_ENDIAN) throw new Error('onnx: writing raw_data needs a little-endian host');
  const m = new Pb();
  for (const d of t.dims) m.int(1, d); // dims
  m.int(2, t.data instanceof Float32Array ? DT_FLOAT : t.data instanceof Int32Array ? DT_INT32 : DT_INT64); // data_type
  m.string(8, t.name); // name
  m.data(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)); // raw_data
  return m;
}

function attributeProto(name: string, a: OnnxWriterAttribute): Pb {
  const m = new Pb().string(1, name); // name
  switch (a.type) {
    case 'float':
      m.float(2, a.value);
      break;
    case 'int':
      m.int(3, a.value);
      break;
    case 'string':
      m.string(4, a.value);
      break;
    case 'floats':
      for (const v of a.value) m.float(7, v);
      break;
    case 'ints':
      for (const v of a.value) m.int(8, v);
      break;
  }
  m.int(20, AT[a.type]); // type
  return m;
}

function nodeProto(n: OnnxWriterNode): Pb {
  const m = new Pb();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  if (n.name) m.string(3, n.name);
  m.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) m.message(5, attributeProto(k, v));
  return m;
}

function valueInfoProto(v: OnnxValueInfo): Pb {
  const shape = new Pb();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().string(2, d)); // dim_value / dim_param
  const tensorType = new Pb().int(1, v.elemType ?? DT_FLOAT).message(2, shape); // elem_type, shape
  return new Pb().string(1, v.name).message(2, new Pb().message(1, tensorType)); // name, type.tensor_type
}

/** Serialises a graph as an ONNX ModelProto (the bytes of a .onnx file). */
export function encodeOnnxModel(g: OnnxWriterGraph, opts: OnnxModelOptions = {}): Uint8Array {
  const graph = new Pb();
  for (const n of g.nodes) graph.message(1, nodeProto(n));
  graph.string(2, g.name);
  for (const t of g.initializers) graph.message(5, tensorProto(t));
  for (const v of g.inputs) graph.message(11, valueInfoProto(v));
  for (const v of g.outputs) graph.message(12, valueInfoProto(v));
  const model = new Pb().int(1, opts.irVersion ?? 7); // ir_version
  model.string(2, opts.producerName ?? 'mnv2');
  if (opts.producerVersion) model.string(3, opts.producerVersion);
  if (opts.docString) model.string(6, opts.docString);
  model.message(7, graph);
  model.message(8, new Pb().string(1, '').int(2, opts.opset ?? 13)); // opset_import: default domain
  for (const [k, v] of Object.entries(opts.metadata ?? {})) model.message(14, new Pb().string(1, k).string(2, v)); // metadata_props
  return model.finish();
}

// ---------------------------------------------------------------- MobileNetV2 → ONNX

export interface MobileNetV2OnnxOptions {
  alpha: number;
  inputSize: number;
  /** A fixed batch size, or a symbolic name (e.g. 'N'). */
  batch: number | string;
  /**
   * Weight values by Keras name in our layouts: conv HWIO, depthwise [3,3,C], pointwise [cin,cout],
   * Dense [in,out]; BatchNorm gamma/beta/moving_mean/moving_variance.
   */
  weight: (name: string) => Float32Array;
  /** Classifier head (global average pool → [hidden Dense+ReLU] → Dense), or null for features. */
  head?: { classes: number; hidden?: number; hiddenName?: string; denseName?: string; softmax?: boolean } | null;
  padding?: PaddingMode; // 'same' (default, TF/Keras) or 'symmetric'
  epsilon?: number; // BatchNorm epsilon, default 1e-3
  /** Fold BatchNorm into the conv weights and bias (as tf2onnx does); otherwise BatchNormalization nodes. */
  foldBatchNorm?: boolean;
  /** 'nchw' (ONNX's own, default) or 'nhwc' (ours; a Transpose node is added after the input). */
  inputLayout?: 'nchw' | 'nhwc';
}

/** MobileNetV2 as an ONNX graph: input 'input', output 'logits' ('probabilities' with softmax, 'features' without head). */
export function mobileNetV2Onnx(o: MobileNetV2OnnxOptions): OnnxWriterGraph {
  const arch = architecture(o.alpha);
  const eps = o.epsilon ?? 1e-3;
  const padding = o.padding ?? 'same';
  const nodes: OnnxWriterNode[] = [];
  const inits: OnnxInitializer[] = [];
  const init = (name: string, dims: number[], data: Float32Array) => {
    inits.push({ name, dims, data });
    return name;
  };
  const get = (name: string, n: number) => {
    const w = o.weight(name);
    if (!w || w.length !== n) throw new Error(`onnx: weight '${name}' has ${w ? w.length : 'no'} values, expected ${n}`);
    return w;
  };
  const S = o.inputSize;
  const inputDims = o.inputLayout === 'nhwc' ? [o.batch, S, S, 3] : [o.batch, 3, S, S];
  let x = 'input';
  if (o.inputLayout === 'nhwc') {
    nodes.push({ opType: 'Transpose', name: 'input_nchw', inputs: [x], outputs: ['input_nchw'], attributes: { perm: attr.ints([0, 3, 1, 2]) } });
    x = 'input_nchw';
  }
  const clipMin = init('relu6_min', [], new Float32Array([0]));
  const clipMax = init('relu6_max', [], new Float32Array([6]));
  let size = S;

  /** Conv (OIHW) → BN → optional Clip(0,6). Returns the output name. */
  const unit = ({ kind, conv: convName, bn: bnName, relu: reluName, inC, outC, stride }: UnitSpec) => {
    const k = kind === 'pointwise' ? 1 : 3;
    const cinPerGroup = kind === 'depthwise' ? 1 : inC;
    const w = new Float32Array(outC * cinPerGroup * k * k);
    if (kind === 'pointwise') {
      const src = get(`${convName}/kernel`, inC * outC); // [cin, cout]
      for (let i = 0; i < inC; i++) for (let c = 0; c < outC; c++) w[c * inC + i] = src[i * outC + c];
    } else if (kind === 'depthwise') {
      const src = get(`${convName}/depthwise_kernel`, 9 * inC); // [3,3,C]
      for (let t = 0; t < 9; t++) for (let c = 0; c < inC; c++) w[c * 9 + t] = src[t * inC + c];
    } else {
      const src = get(`${convName}/kernel`, 9 * inC * outC); // [3,3,cin,cout]
      for (let t = 0; t < 9; t++) for (let i = 0; i < inC; i++) for (let c = 0; c < outC; c++) w[(c * inC + i) * 9 + t] = src[(t * inC + i) * outC + c];
    }
    const gamma = get(`${bnName}/gamma`, outC);
    const beta = get(`${bnName}/beta`, outC);
    const mean = get(`${bnName}/moving_mean`, outC);
    const variance = get(`${bnName}/moving_variance`, outC);
    const pads = [0, 0, 0, 0];
    if (k === 3) {
      const out = Math.ceil(size / stride);
      if (padding === 'same') {
        const total = Math.max((out - 1) * stride + 3 - size, 0);
        const before = Math.floor(total / 2);
        pads.splice(0, 4, before, before, total - before, total - before); // [top, left, bottom, right]
      } else pads.fill(1);
      size = padding === 'same' ? out : Math.floor((size + 2 - 3) / stride) + 1;
    }
    const convAttrs: Record<string, OnnxWriterAttribute> = {
      kernel_shape: attr.ints([k, k]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints(pads),
      dilations: attr.ints([1, 1]),
      group: attr.int(kind === 'depthwise' ? inC : 1),
    };
    const wDims = [outC, cinPerGroup, k, k];
    let y: string;
    if (o.foldBatchNorm) {
      const per = cinPerGroup * k * k;
      const bias = new Float32Array(outC);
      for (let c = 0; c < outC; c++) {
        const s = gamma[c] / Math.sqrt(variance[c] + eps);
        for (let j = 0; j < per; j++) w[c * per + j] *= s;
        bias[c] = beta[c] - mean[c] * s;
      }
      y = convName;
      nodes.push({ opType: 'Conv', name: convName, inputs: [x, init(`${convName}/kernel`, wDims, w), init(`${convName}/bias`, [outC], bias)], outputs: [y], attributes: convAttrs });
    } else {
      nodes.push({ opType: 'Conv', name: convName, inputs: [x, init(`${convName}/kernel`, wDims, w)], outputs: [convName], attributes: convAttrs });
      y = bnName;
      const p = (n: string, v: Float32Array) => init(`${bnName}/${n}`, [outC], v);
      nodes.push({
        opType: 'BatchNormalization',
        name: bnName,
        inputs: [convName, p('gamma', gamma), p('beta', beta), p('moving_mean', mean), p('moving_variance', variance)],
        outputs: [y],
        attributes: { epsilon: attr.float(eps) },
      });
    }
    if (reluName) {
      nodes.push({ opType: 'Clip', name: reluName, inputs: [y, clipMin, clipMax], outputs: [reluName] });
      y = reluName;
    }
    x = y;
    return y;
  };

  let blockIn = x;
  let block: BlockSpec | undefined;
  for (const u of units(arch)) {
    if (u.block !== block) [block, blockIn] = [u.block, x]; // a block's input feeds its residual add
    unit(u);
    if (u.block?.residual && !u.relu) {
      const add = `${blockPrefix(u.block.index)}_add`;
      nodes.push({ opType: 'Add', name: add, inputs: [blockIn, x], outputs: [add] });
      x = add;
    }
  }

  let output: OnnxValueInfo;
  if (o.head) {
    nodes.push({ opType: 'GlobalAveragePool', name: 'global_average_pooling2d', inputs: [x], outputs: ['pooled'] });
    nodes.push({ opType: 'Flatten', name: 'flatten', inputs: ['pooled'], outputs: ['flat'], attributes: { axis: attr.int(1) } });
    x = 'flat';
    let inN = arch.lastChannels;
    const gemm = (name: string, outN: number, out: string) => {
      const w = init(`${name}/kernel`, [inN, outN], get(`${name}/kernel`, inN * outN)); // [in,out] = B with transB 0
      const b = init(`${name}/bias`, [outN], get(`${name}/bias`, outN));
      nodes.push({ opType: 'Gemm', name, inputs: [x, w, b], outputs: [out], attributes: { transB: attr.int(0) } });
      inN = outN;
      x = out;
    };
    if (o.head.hidden) {
      const name = o.head.hiddenName ?? 'dense';
      gemm(name, o.head.hidden, `${name}_linear`);
      nodes.push({ opType: 'Relu', name: `${name}_relu`, inputs: [x], outputs: [`${name}_relu`] });
      x = `${name}_relu`;
    }
    gemm(o.head.denseName ?? 'predictions', o.head.classes, 'logits');
    if (o.head.softmax) {
      nodes.push({ opType: 'Softmax', name: 'softmax', inputs: [x], outputs: ['probabilities'], attributes: { axis: attr.int(1) } });
      x = 'probabilities';
    }
    output = { name: x, dims: [o.batch, o.head.classes] };
  } else {
    nodes.push({ opType: 'Identity', name: 'features', inputs: [x], outputs: ['features'] });
    output = { name: 'features', dims: [o.batch, arch.lastChannels, size, size] };
  }
  return { name: `mobilenetv2_${o.alpha}_${o.inputSize}`, nodes, initializers: inits, inputs: [{ name: 'input', dims: inputDims }], outputs: [output] };
}
