// ONNX MobileNetV2 classifiers (float, or QLinear / QDQ int8 quantized, e.g. the ONNX model zoo's
// torchvision-derived `mobilenetv2-12-int8.onnx`) → Keras-named float weights for MobileNetV2Net.
//
// A minimal protobuf wire-format reader decodes just the ModelProto fields we need (graph, nodes,
// initializers, attributes, tensors). The graph is walked in node order and every conv (QLinearConv,
// Conv, with weights from an initializer or a DequantizeLinear of one) is assigned to the next unit of
// Keras' sequence (Conv1, 17 blocks of [expand,] depthwise, project, Conv_1), then the logits layer
// (Gemm, QGemm, MatMul[+Add], QLinearMatMul[+QLinearAdd]). Kernel shape, group and stride are checked.
//
// BatchNorm is folded into the convs (torchvision export), so, as for TFLite, each unit gets kernel =
// folded kernel, gamma = 1, beta = bias, moving_mean = 0, moving_variance = 1 − ε.
// Layouts: conv OIHW → HWIO; depthwise [C,1,3,3] → [3,3,C,1]; Gemm B [out,in] (transB=1) → [in,out].
// Dequantisation: w = (w_q − w_zp)·w_scale (per tensor or per output channel), int32 bias = b_q·x_scale·w_scale.
// The model expects NCHW RGB input normalised with torchvision's mean/std and symmetric padding.
import { architecture, type UnitSpec } from '../nn/architecture.js';
import { MappingError, matchWidth, setFoldedUnit } from './unit-match.js';
import { checkIsClean, checkWeights, expectedWeights, fmtShape, formatCheck, type WeightMap } from './weight-map.js';
import { KERAS_ALPHAS } from './tfslim.js';
import { decodeUtf8 } from './utf8.js';

export class OnnxError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'OnnxError';
  }
}

// ---------------------------------------------------------------------------------------------------
// Protobuf wire format

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  rawData: Uint8Array | null;
}

export interface OnnxAttribute {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  floats: number[];
  ints: number[];
}

export interface OnnxNode {
  index: number;
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: string[];
  outputs: string[];
}

export interface OnnxModel {
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  graph: OnnxGraph;
}

class Wire {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly file: string,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  fail(msg: string): never {
    throw new OnnxError(this.file, `corrupt or truncated ONNX protobuf at byte ${this.pos}: ${msg}`);
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      if (this.pos >= this.end) this.fail('varint runs past the end');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) return result;
    }
    this.fail('varint longer than 10 bytes');
  }
  /** int64 varint as a JS number (negative values come as 2^64 − x). */
  svarint64(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v;
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail(`field of ${n} bytes runs past the end (${this.end - this.pos} left)`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  sub(): Wire {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail(`message of ${n} bytes runs past the end (${this.end - this.pos} left)`);
    const w = new Wire(this.buf, this.file, this.pos, this.pos + n);
    this.pos += n;
    return w;
  }
  string(): string {
    return decodeUtf8(this.bytes());
  }
  fixed32f(): number {
    if (this.pos + 4 > this.end) this.fail('fixed32 runs past the end');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wt: number): void {
    if (wt === 0) this.varint();
    else if (wt === 1) this.advance(8);
    else if (wt === 2) this.advance(this.varint());
    else if (wt === 5) this.advance(4);
    else this.fail(`unsupported wire type ${wt}`);
  }
  advance(n: number) {
    if (this.pos + n > this.end) this.fail(`skip of ${n} bytes runs past the end`);
    this.pos += n;
  }
  /** Iterates the fields of this message. */
  *fields(): Generator<[number, number]> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wt = key & 7;
      if (field === 0) this.fail('field number 0');
      yield [field, wt];
    }
  }
  /** Repeated varint field, packed (wt 2) or not. */
  varints(wt: number, out: number[], signed64 = false) {
    const one = () => (signed64 ? this.svarint64() : this.varint());
    if (wt === 2) {
      const s = this.sub();
      while (s.pos < s.end) out.push(signed64 ? s.svarint64() : s.varint());
    } else if (wt === 0) out.push(one());
    else this.fail(`expected varint, got wire type ${wt}`);
  }
  floats(wt: number, out: number[]) {
    if (wt === 2) {
      const s = this.sub();
      while (s.pos < s.end) out.push(s.fixed32f());
    } else if (wt === 5) out.push(this.fixed32f());
    else this.fail(`expected float, got wire type ${wt}`);
  }
}

function readTensor(w: Wire): OnnxTensor {
  const t: OnnxTensor = { name: '', dims: [], dataType: 0, floatData: [], int32Data: [], int64Data: [], rawData: null };
  for (const [f, wt] of w.fields()) {
    if (f === 1) w.varints(wt, t.dims, true);
    else if (f === 2 && wt === 0) t.dataType = w.varint();
    else if (f === 4) w.floats(wt, t.floatData);
    else if (f === 5) w.varints(wt, t.int32Data, true);
    else if (f === 7) w.varints(wt, t.int64Data, true);
    else if (f === 8 && wt === 2) t.name = w.string();
    else if (f === 9 && wt === 2) t.rawData = w.bytes();
    else w.skip(wt);
  }
  // int32_data holds int32 as (sign-extended) varints
  t.int32Data = t.int32Data.map((v) => v | 0);
  return t;
}

function readAttribute(w: Wire): OnnxAttribute {
  const a: OnnxAttribute = { name: '', floats: [], ints: [] };
  for (const [f, wt] of w.fields()) {
    if (f === 1 && wt === 2) a.name = w.string();
    else if (f === 2 && wt === 5) a.f = w.fixed32f();
    else if (f === 3 && wt === 0) a.i = w.svarint64();
    else if (f === 4 && wt === 2) a.s = w.string();
    else if (f === 5 && wt === 2) a.t = readTensor(w.sub());
    else if (f === 7) w.floats(wt, a.floats);
    else if (f === 8) w.varints(wt, a.ints, true);
    else w.skip(wt);
  }
  return a;
}

function readNode(w: Wire, index: number): OnnxNode {
  const n: OnnxNode = { index, name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: new Map() };
  for (const [f, wt] of w.fields()) {
    if (f === 1 && wt === 2) n.inputs.push(w.string());
    else if (f === 2 && wt === 2) n.outputs.push(w.string());
    else if (f === 3 && wt === 2) n.name = w.string();
    else if (f === 4 && wt === 2) n.opType = w.string();
    else if (f === 7 && wt === 2) n.domain = w.string();
    else if (f === 5 && wt === 2) {
      const a = readAttribute(w.sub());
      n.attributes.set(a.name, a);
    } else w.skip(wt);
  }
  return n;
}

/** ValueInfoProto: only the name. */
function readValueInfoName(w: Wire): string {
  let name = '';
  for (const [f, wt] of w.fields()) {
    if (f === 1 && wt === 2) name = w.string();
    else w.skip(wt);
  }
  return name;
}

function readGraph(w: Wire): OnnxGraph {
  const g: OnnxGraph = { name: '', nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  for (const [f, wt] of w.fields()) {
    if (f === 1 && wt === 2) g.nodes.push(readNode(w.sub(), g.nodes.length));
    else if (f === 2 && wt === 2) g.name = w.string();
    else if (f === 5 && wt === 2) {
      const t = readTensor(w.sub());
      g.initializers.set(t.name, t);
    } else if (f === 11 && wt === 2) g.inputs.push(readValueInfoName(w.sub()));
    else if (f === 12 && wt === 2) g.outputs.push(readValueInfoName(w.sub()));
    else w.skip(wt);
  }
  return g;
}

/** Parses an ONNX ModelProto (the fields MobileNetV2 import needs). `file` names the model in errors. */
export function readOnnx(buffer: ArrayBuffer | ArrayBufferView, file = '<onnx>'): OnnxModel {
  const buf = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (buf.length < 8) throw new OnnxError(file, `only ${buf.length} bytes: not an ONNX model`);
  const w = new Wire(buf, file, 0, buf.length);
  const m: OnnxModel = { irVersion: 0, producer: '', opsets: [], graph: null as unknown as OnnxGraph };
  let graph: OnnxGraph | null = null;
  for (const [f, wt] of w.fields()) {
    if (f === 1 && wt === 0) m.irVersion = w.varint();
    else if (f === 2 && wt === 2) m.producer = w.string();
    else if (f === 7 && wt === 2) graph = readGraph(w.sub());
    else if (f === 8 && wt === 2) {
      const s = w.sub();
      const o = { domain: '', version: 0 };
      for (const [f2, wt2] of s.fields()) {
        if (f2 === 1 && wt2 === 2) o.domain = s.string();
        else if (f2 === 2 && wt2 === 0) o.version = s.varint();
        else s.skip(wt2);
      }
      m.opsets.push(o);
    } else w.skip(wt);
  }
  if (!graph) throw new OnnxError(file, 'no graph (ModelProto field 7): not an ONNX model, or truncated');
  if (graph.nodes.length === 0) throw new OnnxError(file, 'graph has no nodes');
  m.graph = graph;
  return m;
}

// ---------------------------------------------------------------------------------------------------
// Tensor values

const DTYPE: Record<number, string> = { 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 10: 'FLOAT16', 11: 'DOUBLE' };

/** Values of a tensor as numbers (no dequantisation). */
export function onnxTensorValues(t: OnnxTensor, file = '<onnx>'): Float64Array | Float32Array {
  const n = t.dims.reduce((a, b) => a * b, 1);
  const type = DTYPE[t.dataType] ?? `type ${t.dataType}`;
  const where = `tensor "${t.name}" ${type}${fmtShape(t.dims)}`;
  const raw = t.rawData;
  if (raw && raw.length) {
    const size = { 1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 11: 8 }[t.dataType];
    if (size === undefined) throw new OnnxError(file, `${where}: data type not supported`);
    if (raw.length !== n * size) throw new OnnxError(file, `${where}: raw_data has ${raw.length} bytes, expected ${n * size}`);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = t.dataType === 1 ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) {
      switch (t.dataType) {
        case 1: out[i] = dv.getFloat32(i * 4, true); break;
        case 2: out[i] = dv.getUint8(i); break;
        case 3: out[i] = dv.getInt8(i); break;
        case 5: out[i] = dv.getInt16(i * 2, true); break;
        case 6: out[i] = dv.getInt32(i * 4, true); break;
        case 7: out[i] = Number(dv.getBigInt64(i * 8, true)); break;
        default: out[i] = dv.getFloat64(i * 8, true);
      }
    }
    return out;
  }
  const src = t.dataType === 1 ? t.floatData : t.dataType === 7 ? t.int64Data : [2, 3, 4, 5, 6].includes(t.dataType) ? t.int32Data : null;
  if (!src) throw new OnnxError(file, `${where}: data type not supported`);
  if (src.length !== n) throw new OnnxError(file, `${where}: has ${src.length} values, expected ${n}`);
  // int8 in int32_data may be stored as unsigned bytes by some writers
  const vals = t.dataType === 3 ? src.map((v) => (v > 127 ? v - 256 : v)) : src;
  return t.dataType === 1 ? Float32Array.from(vals) : Float64Array.from(vals);
}

// ---------------------------------------------------------------------------------------------------
// Import

export interface OnnxImportOptions {
  /** BatchNorm epsilon of the network that will load the weights (default 1e-3). */
  epsilon?: number;
  alphas?: number[];
}

export interface OnnxUnitInfo {
  keras: string;
  node: number;
  opType: string;
  weight: string;
  stride: number;
}

export interface OnnxImportInfo {
  alpha: number;
  inputSize: number;
  classes?: number;
  preprocess: 'torch';
  padding: 'symmetric';
  epsilon: number;
  opCounts: Record<string, number>;
  units: OnnxUnitInfo[];
  warnings: string[];
  producer: string;
}

export interface OnnxImport {
  weights: WeightMap;
  info: OnnxImportInfo;
}


const CONV_OPS = new Set(['QLinearConv', 'Conv']);
const HEAD_OPS = new Set(['Gemm', 'QGemm', 'MatMul', 'QLinearMatMul']);

interface Dq {
  /** Float values. */
  data: Float32Array;
  dims: number[];
  /** Per-output-channel (or single) scale of a quantized weight, for bias scaling. */
  scale: number[] | null;
}

class Graph {
  readonly producers = new Map<string, OnnxNode>();
  readonly constants = new Map<string, OnnxTensor>();
  constructor(
    readonly g: OnnxGraph,
    readonly file: string,
  ) {
    for (const n of g.nodes) for (const o of n.outputs) this.producers.set(o, n);
    for (const [k, t] of g.initializers) this.constants.set(k, t);
    for (const n of g.nodes) if (n.opType === 'Constant' && n.attributes.get('value')?.t) this.constants.set(n.outputs[0], n.attributes.get('value')!.t!);
  }
  err(node: OnnxNode, msg: string): OnnxError {
    return new OnnxError(this.file, `node ${node.index} (${node.opType} "${node.name}"): ${msg}`);
  }
  tensor(name: string, node: OnnxNode): OnnxTensor {
    const t = this.constants.get(name);
    if (!t) throw this.err(node, `input "${name}" is not a constant`);
    return t;
  }
  values(name: string, node: OnnxNode): number[] {
    return Array.from(onnxTensorValues(this.tensor(name, node), this.file));
  }
  /** Dequantize q (with scale, zero point; per tensor or along `axis`). */
  dequant(qName: string, sName: string, zName: string | undefined, axis: number, node: OnnxNode): Dq {
    const qt = this.tensor(qName, node);
    const q = onnxTensorValues(qt, this.file);
    const scale = this.values(sName, node);
    const zero = zName ? this.values(zName, node) : [0];
    const dims = qt.dims;
    const ax = axis < 0 ? axis + dims.length : axis;
    if (scale.length > 1 && dims[ax] !== scale.length) throw this.err(node, `${scale.length} scales for "${qName}" ${fmtShape(dims)} along axis ${ax}`);
    const inner = dims.slice(ax + 1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) {
      const c = scale.length > 1 ? Math.floor(i / inner) % scale.length : 0;
      out[i] = scale[c] * (q[i] - (zero.length > 1 ? zero[c] : zero[0]));
    }
    return { data: out, dims, scale };
  }
  /** A float constant: an initializer, or a DequantizeLinear of constants. */
  floatConst(name: string, node: OnnxNode): Dq {
    const t = this.constants.get(name);
    if (t) {
      if (t.dataType !== 1) throw this.err(node, `weight "${name}" has type ${DTYPE[t.dataType] ?? t.dataType}, expected FLOAT (or a DequantizeLinear)`);
      return { data: onnxTensorValues(t, this.file) as Float32Array, dims: t.dims, scale: null };
    }
    const p = this.producers.get(name);
    if (p?.opType === 'DequantizeLinear') return this.dequant(p.inputs[0], p.inputs[1], p.inputs[2] || undefined, p.attributes.get('axis')?.i ?? 1, p);
    throw this.err(node, `weight "${name}" is neither an initializer nor a DequantizeLinear of one`);
  }
  /** Scale of an activation: a QLinear op's scale input, or the scale of the DequantizeLinear producing it. */
  activationScale(name: string): number | null {
    const p = this.producers.get(name);
    if (p?.opType === 'DequantizeLinear' && this.constants.has(p.inputs[1])) return this.values(p.inputs[1], p)[0];
    return null;
  }
}

interface Conv {
  node: NodeLike;
  w: Dq;
  bias: Float32Array | null;
  group: number;
  strides: number[];
  dilations: number[];
}
type NodeLike = OnnxNode;

function readConv(g: Graph, n: OnnxNode): Conv {
  const attr = (k: string) => n.attributes.get(k);
  const group = attr('group')?.i ?? 1;
  const strides = attr('strides')?.ints ?? [1, 1];
  const dilations = attr('dilations')?.ints ?? [1, 1];
  if (n.opType === 'QLinearConv') {
    // x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]
    const w = g.dequant(n.inputs[3], n.inputs[4], n.inputs[5] || undefined, 0, n);
    let bias: Float32Array | null = null;
    if (n.inputs[8]) {
      const bq = g.values(n.inputs[8], n);
      const xs = g.values(n.inputs[1], n)[0];
      const ws = w.scale!;
      bias = Float32Array.from(bq, (v, o) => v * xs * (ws.length > 1 ? ws[o] : ws[0]));
    }
    return { node: n, w, bias, group, strides, dilations };
  }
  const w = g.floatConst(n.inputs[1], n);
  let bias: Float32Array | null = null;
  if (n.inputs[2]) {
    const b = g.constants.get(n.inputs[2]);
    const p = g.producers.get(n.inputs[2]);
    if (b && b.dataType === 6) {
      // int32 bias without a DequantizeLinear: scale by input · weight scale
      const xs = g.activationScale(n.inputs[0]);
      if (xs === null || !w.scale) throw g.err(n, 'int32 bias without scales');
      const ws = w.scale;
      bias = Float32Array.from(onnxTensorValues(b, g.file), (v, o) => v * xs * (ws.length > 1 ? ws[o] : ws[0]));
    } else if (b || p) bias = g.floatConst(n.inputs[2], n).data;
  }
  return { node: n, w, bias, group, strides, dilations };
}

/** [O, I, kh, kw] → [kh, kw, I, O]. */
function oihwToHwio(src: Float32Array, o: number, i: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++) for (let c = 0; c < i; c++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + c) * o + a] = src[((a * i + c) * kh + y) * kw + x];
  return out;
}

function mapBase(g: Graph, convs: OnnxNode[], seq: UnitSpec[], eps: number) {
  if (convs.length < seq.length) throw new MappingError(`${convs.length} conv nodes, MobileNetV2 needs ${seq.length}`, -1);
  if (convs.length > seq.length) throw new MappingError(`${convs.length} conv nodes, MobileNetV2 has ${seq.length}`, -1);
  const weights: WeightMap = new Map();
  const units: OnnxUnitInfo[] = [];
  seq.forEach((u, i) => {
    const n = convs[i];
    const c = readConv(g, n);
    const s = c.w.dims;
    const where = `node ${n.index} (${n.opType} "${n.name}") weight ${fmtShape(s)} should be ${u.conv}`;
    const k = u.kind === 'pointwise' ? 1 : 3;
    const inPerGroup = u.kind === 'depthwise' ? 1 : u.inC;
    if (!(s.length === 4 && s[0] === u.outC && s[1] === inPerGroup && s[2] === k && s[3] === k)) throw new MappingError(`${where}: expected [${u.outC},${inPerGroup},${k},${k}]`, i);
    const wantGroup = u.kind === 'depthwise' ? u.outC : 1;
    if (c.group !== wantGroup) throw new MappingError(`${where}: group ${c.group}, expected ${wantGroup}`, i);
    if (c.strides.some((x) => x !== u.stride)) throw new MappingError(`${where}: strides ${fmtShape(c.strides)}, expected ${u.stride}`, i);
    if (c.dilations.some((x) => x !== 1)) throw new MappingError(`${where}: dilated`, i);
    const kernel =
      u.kind === 'depthwise'
        ? { name: `${u.conv}/depthwise_kernel`, shape: [3, 3, u.outC, 1], data: oihwToHwio(c.w.data, 1, u.outC, 3, 3) }
        : { name: `${u.conv}/kernel`, shape: [k, k, u.inC, u.outC], data: oihwToHwio(c.w.data, u.outC, u.inC, k, k) };
    // depthwise: treat [C,1,3,3] as O=1, I=C → [3,3,C,1]
    const bias = c.bias ?? new Float32Array(u.outC);
    setFoldedUnit(weights, u, kernel, bias, eps, where, i);
    units.push({ keras: u.conv, node: n.index, opType: n.opType, weight: n.inputs[n.opType === 'QLinearConv' ? 3 : 1], stride: u.stride });
  });
  return { weights, units };
}

/** The logits layer as [in, out] kernel and bias. */
function readHead(g: Graph, n: OnnxNode, lastC: number): { kernel: Float32Array; bias: Float32Array; classes: number } {
  const attr = (k: string) => n.attributes.get(k);
  let b: Dq;
  let transB = 0;
  let bias: Float32Array | null = null;
  let next: OnnxNode | undefined;
  const consumer = (name: string) => g.g.nodes.find((m) => m.inputs.includes(name));
  if (n.opType === 'Gemm') {
    if ((attr('transA')?.i ?? 0) !== 0) throw g.err(n, 'transA is not supported');
    transB = attr('transB')?.i ?? 0;
    b = g.floatConst(n.inputs[1], n);
    if (n.inputs[2]) bias = g.floatConst(n.inputs[2], n).data;
    const alpha = attr('alpha')?.f ?? 1;
    const beta = attr('beta')?.f ?? 1;
    if (alpha !== 1) b.data = b.data.map((v) => v * alpha);
    if (bias && beta !== 1) bias = bias.map((v) => v * beta);
  } else if (n.opType === 'QGemm') {
    // A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp
    if ((attr('transA')?.i ?? 0) !== 0) throw g.err(n, 'transA is not supported');
    transB = attr('transB')?.i ?? 0;
    b = g.dequant(n.inputs[3], n.inputs[4], n.inputs[5] || undefined, transB ? 0 : 1, n);
    if (n.inputs[6]) {
      const as = g.values(n.inputs[1], n)[0];
      const bs = b.scale!;
      const alpha = attr('alpha')?.f ?? 1;
      bias = Float32Array.from(g.values(n.inputs[6], n), (v, o) => v * as * (bs.length > 1 ? bs[o] : bs[0]) * alpha);
    }
    const alpha = attr('alpha')?.f ?? 1;
    if (alpha !== 1) b.data = b.data.map((v) => v * alpha);
  } else if (n.opType === 'QLinearMatMul') {
    // a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp; bias via a following QLinearAdd
    b = g.dequant(n.inputs[3], n.inputs[4], n.inputs[5] || undefined, 1, n);
    next = consumer(n.outputs[0]);
    if (next?.opType === 'QLinearAdd') {
      // A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp: the constant side is the bias
      const other = next.inputs[0] === n.outputs[0] ? 3 : 0;
      bias = g.dequant(next.inputs[other], next.inputs[other + 1], next.inputs[other + 2] || undefined, 0, next).data;
    }
  } else {
    // MatMul [+ Add]
    b = g.floatConst(n.inputs[1], n);
    next = consumer(n.outputs[0]);
    if (next?.opType === 'Add') {
      const other = next.inputs[0] === n.outputs[0] ? next.inputs[1] : next.inputs[0];
      bias = g.floatConst(other, next).data;
    }
  }
  const s = b.dims;
  if (s.length !== 2) throw g.err(n, `weight ${fmtShape(s)} is not 2-D`);
  const [inDim, classes] = transB ? [s[1], s[0]] : [s[0], s[1]];
  if (inDim !== lastC) throw g.err(n, `weight ${fmtShape(s)} is not a logits layer over ${lastC} features`);
  let kernel: Float32Array;
  if (transB) {
    kernel = new Float32Array(lastC * classes);
    for (let o = 0; o < classes; o++) for (let i = 0; i < lastC; i++) kernel[i * classes + o] = b.data[o * lastC + i];
  } else kernel = Float32Array.from(b.data);
  bias ??= new Float32Array(classes);
  if (bias.length !== classes) throw g.err(n, `bias has ${bias.length} values, expected ${classes}`);
  return { kernel, bias: Float32Array.from(bias), classes };
}

/**
 * Reads an ONNX MobileNetV2 classifier (torchvision layout, float or int8-quantized) and maps it onto
 * Keras-named float weights. `file` names the model in errors.
 */
export function importOnnx(buffer: ArrayBuffer | ArrayBufferView, file = '<onnx>', opts: OnnxImportOptions = {}): OnnxImport {
  const model = readOnnx(buffer, file);
  const g = new Graph(model.graph, file);
  const eps = opts.epsilon ?? 1e-3;
  const opCounts: Record<string, number> = {};
  for (const n of model.graph.nodes) opCounts[n.opType] = (opCounts[n.opType] ?? 0) + 1;
  const convs = model.graph.nodes.filter((n) => CONV_OPS.has(n.opType));
  if (convs.length === 0) throw new OnnxError(file, `no Conv / QLinearConv nodes (ops: ${Object.keys(opCounts).join(', ')}): not a MobileNetV2`);

  const { weights, units, alpha } = matchWidth(
    opts.alphas ?? KERAS_ALPHAS,
    (seq) => mapBase(g, convs, seq, eps),
    (closest) => new OnnxError(file, closest ? `not a MobileNetV2 (closest: alpha=${closest.alpha}): ${closest.message}` : 'not a MobileNetV2: no width fits its kernel shapes'),
  );
  const warnings: string[] = [];
  const lastC = architecture(alpha).lastChannels;

  const lastConv = convs[convs.length - 1].index;
  const heads = model.graph.nodes.filter((n) => n.index > lastConv && HEAD_OPS.has(n.opType));
  let classes: number | undefined;
  if (heads.length > 1) throw new OnnxError(file, `after the last conv expected one logits node, found ${heads.map((n) => `${n.index}:${n.opType}`).join(', ')}`);
  if (heads.length === 1) {
    const h = readHead(g, heads[0], lastC);
    classes = h.classes;
    weights.set('predictions/kernel', { shape: [lastC, h.classes], data: h.kernel });
    weights.set('predictions/bias', { shape: [h.classes], data: h.bias });
    units.push({ keras: 'predictions', node: heads[0].index, opType: heads[0].opType, weight: heads[0].inputs[heads[0].opType === 'QGemm' || heads[0].opType === 'QLinearMatMul' ? 3 : 1], stride: 1 });
  }

  const residuals = architecture(alpha).blocks.filter((b) => b.residual).length;
  const adds = (opCounts.Add ?? 0) + (opCounts.QLinearAdd ?? 0) - (heads[0] && ['MatMul', 'QLinearMatMul'].includes(heads[0].opType) ? 1 : 0);
  if (adds !== residuals) warnings.push(`${adds} Add/QLinearAdd nodes, MobileNetV2 has ${residuals} residual adds`);

  const check = checkWeights(weights, expectedWeights(alpha, 224, classes !== undefined, classes ?? 1000));
  if (!checkIsClean(check)) throw new OnnxError(file, `internal mapping error:\n${formatCheck(check)}`);

  return {
    weights,
    info: { alpha, inputSize: 224, classes, preprocess: 'torch', padding: 'symmetric', epsilon: eps, opCounts, units, warnings, producer: model.producer },
  };
}
