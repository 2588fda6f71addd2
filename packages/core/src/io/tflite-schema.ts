// A minimal, bounds-checked reader of the TFLite flatbuffer (schema `tflite/schema.fbs`, file
// identifier "TFL3"), over the `flatbuffers` ByteBuffer. Only the fields a weight importer needs.
// Field ids (vtable slot = 4 + 2*id) follow the public schema; unions take two ids (type, value).
//   Model:     version 0, operator_codes 1, subgraphs 2, description 3, buffers 4
//   OperatorCode: deprecated_builtin_code:byte 0, custom_code 1, version 2, builtin_code:int 3
//   SubGraph:  tensors 0, inputs 1, outputs 2, operators 3, name 4
//   Tensor:    shape 0, type 1, buffer 2, name 3, quantization 4
//   QuantizationParameters: min 0, max 1, scale 2, zero_point:[long] 3, details 4/5, quantized_dimension 6
//   Operator:  opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4
//   Buffer:    data:[ubyte] 0, offset:ulong 1, size:ulong 2 (data stored after the flatbuffer)
//   Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused_activation_function 3, dilation_w 4, dilation_h 5
//   DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3, fused_activation 4, dilation_w 5, dilation_h 6
//   Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4, fused_activation 5
//   FullyConnectedOptions: fused_activation 0, weights_format 1, keep_num_dims 2
//   AddOptions: fused_activation 0;  SoftmaxOptions: beta:float 0;  ReshapeOptions: new_shape 0
import { ByteBuffer } from 'flatbuffers';
import { decodeUtf8 } from './utf8.js';

export class TfliteError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'TfliteError';
  }
}

export const TensorType = ['FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16', 'COMPLEX64', 'INT8', 'FLOAT64', 'COMPLEX128', 'UINT64', 'RESOURCE', 'VARIANT', 'UINT32', 'UINT16', 'INT4'] as const;
export type TensorTypeName = (typeof TensorType)[number] | `TYPE_${number}`;

/** The builtin operators we name; others print as `BUILTIN_<code>`. */
export const BuiltinOp: Record<number, string> = {
  0: 'ADD',
  1: 'AVERAGE_POOL_2D',
  2: 'CONCATENATION',
  3: 'CONV_2D',
  4: 'DEPTHWISE_CONV_2D',
  6: 'DEQUANTIZE',
  9: 'FULLY_CONNECTED',
  14: 'LOGISTIC',
  17: 'MAX_POOL_2D',
  18: 'MUL',
  19: 'RELU',
  21: 'RELU6',
  22: 'RESHAPE',
  25: 'SOFTMAX',
  32: 'CUSTOM',
  34: 'PAD',
  40: 'MEAN',
  41: 'SUB',
  43: 'SQUEEZE',
  60: 'PADV2',
  114: 'QUANTIZE',
};

export interface TfliteQuantization {
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
  min: number[];
  max: number[];
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TensorTypeName;
  buffer: number;
  quantization: TfliteQuantization | null;
}

export interface TfliteOptions {
  padding?: 'SAME' | 'VALID';
  strideW?: number;
  strideH?: number;
  dilationW?: number;
  dilationH?: number;
  depthMultiplier?: number;
  filterWidth?: number;
  filterHeight?: number;
  /** NONE, RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT */
  activation?: string;
  beta?: number;
  newShape?: number[];
}

export interface TfliteOperator {
  index: number;
  opcode: string;
  inputs: number[];
  outputs: number[];
  options: TfliteOptions;
}

export interface TfliteSubgraph {
  name: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

export interface TfliteModel {
  version: number;
  description: string;
  subgraphs: TfliteSubgraph[];
  /** Constant data by buffer index (empty for activations). Views into the file bytes. */
  buffers: Uint8Array[];
}

const ACTIVATIONS = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

/** Table access with every read bounds-checked against the file. */
class Reader {
  readonly bb: ByteBuffer;
  readonly len: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.bb = new ByteBuffer(bytes);
    this.len = bytes.length;
  }
  fail(what: string): never {
    throw new TfliteError(this.file, `truncated or corrupt flatbuffer (${what})`);
  }
  check(off: number, size: number, what: string): void {
    if (!(off >= 0 && off + size <= this.len)) this.fail(`${what} at byte ${off} is past the end of the ${this.len}-byte file`);
  }
  /** Absolute position of a table referenced at `at`. */
  indirect(at: number, what: string): number {
    this.check(at, 4, what);
    const pos = at + this.bb.readUint32(at);
    this.check(pos, 4, what);
    // The vtable must be readable too.
    const vt = pos - this.bb.readInt32(pos);
    this.check(vt, 4, `${what} vtable`);
    const vtLen = this.bb.readUint16(vt);
    this.check(vt, vtLen, `${what} vtable`);
    return pos;
  }
  /** Offset of field `id` inside the table at `pos`, or 0 when absent. */
  field(pos: number, id: number): number {
    const vt = pos - this.bb.readInt32(pos);
    const slot = 4 + 2 * id;
    const o = slot < this.bb.readUint16(vt) ? this.bb.readUint16(vt + slot) : 0;
    return o;
  }
  u8(pos: number, id: number, dflt = 0, what = 'field'): number {
    const o = this.field(pos, id);
    if (!o) return dflt;
    this.check(pos + o, 1, what);
    return this.bb.readUint8(pos + o);
  }
  i8(pos: number, id: number, dflt = 0, what = 'field'): number {
    const o = this.field(pos, id);
    if (!o) return dflt;
    this.check(pos + o, 1, what);
    return this.bb.readInt8(pos + o);
  }
  i32(pos: number, id: number, dflt = 0, what = 'field'): number {
    const o = this.field(pos, id);
    if (!o) return dflt;
    this.check(pos + o, 4, what);
    return this.bb.readInt32(pos + o);
  }
  u32(pos: number, id: number, dflt = 0, what = 'field'): number {
    const o = this.field(pos, id);
    if (!o) return dflt;
    this.check(pos + o, 4, what);
    return this.bb.readUint32(pos + o);
  }
  u64(pos: number, id: number, what = 'field'): number {
    const o = this.field(pos, id);
    if (!o) return 0;
    this.check(pos + o, 8, what);
    return Number(this.bb.readUint64(pos + o));
  }
  f32(pos: number, id: number, dflt = 0, what = 'field'): number {
    const o = this.field(pos, id);
    if (!o) return dflt;
    this.check(pos + o, 4, what);
    return this.bb.readFloat32(pos + o);
  }
  /** [start, length] of a vector field (elements of `elem` bytes), or null when absent. */
  vector(pos: number, id: number, elem: number, what: string): [number, number] | null {
    const o = this.field(pos, id);
    if (!o) return null;
    const at = pos + o;
    this.check(at, 4, what);
    const vpos = at + this.bb.readUint32(at);
    this.check(vpos, 4, what);
    const n = this.bb.readUint32(vpos);
    this.check(vpos + 4, n * elem, `${what} (${n} elements)`);
    return [vpos + 4, n];
  }
  string(pos: number, id: number, what: string): string {
    const v = this.vector(pos, id, 1, what);
    if (!v) return '';
    return decodeUtf8(this.bytes.subarray(v[0], v[0] + v[1]));
  }
  ints(pos: number, id: number, what: string): number[] {
    const v = this.vector(pos, id, 4, what);
    if (!v) return [];
    const out = new Array<number>(v[1]);
    for (let i = 0; i < v[1]; i++) out[i] = this.bb.readInt32(v[0] + 4 * i);
    return out;
  }
  floats(pos: number, id: number, what: string): number[] {
    const v = this.vector(pos, id, 4, what);
    if (!v) return [];
    const out = new Array<number>(v[1]);
    for (let i = 0; i < v[1]; i++) out[i] = this.bb.readFloat32(v[0] + 4 * i);
    return out;
  }
  longs(pos: number, id: number, what: string): number[] {
    const v = this.vector(pos, id, 8, what);
    if (!v) return [];
    const out = new Array<number>(v[1]);
    for (let i = 0; i < v[1]; i++) out[i] = Number(this.bb.readInt64(v[0] + 8 * i));
    return out;
  }
  /** Positions of the tables in a vector of tables. */
  tables(pos: number, id: number, what: string): number[] {
    const v = this.vector(pos, id, 4, what);
    if (!v) return [];
    const out: number[] = [];
    for (let i = 0; i < v[1]; i++) out.push(this.indirect(v[0] + 4 * i, `${what}[${i}]`));
    return out;
  }
  /** Position of a sub-table field, or null. */
  table(pos: number, id: number, what: string): number | null {
    const o = this.field(pos, id);
    return o ? this.indirect(pos + o, what) : null;
  }
}

/** Parses a .tflite file's graph (first-level structure only; tensor data stays in `buffers`). */
export function readTflite(buffer: ArrayBuffer | ArrayBufferView, file = '<tflite>'): TfliteModel {
  const bytes = buffer instanceof Uint8Array ? buffer : ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
  if (bytes.length < 8) throw new TfliteError(file, `truncated: ${bytes.length} bytes`);
  const r = new Reader(bytes, file);
  const ident = String.fromCharCode(...bytes.subarray(4, 8));
  if (ident !== 'TFL3') throw new TfliteError(file, `not a TFLite model (file identifier ${JSON.stringify(ident)}, expected "TFL3")`);
  const root = r.indirect(0, 'model');

  const version = r.u32(root, 0, 0, 'Model.version');
  const description = r.string(root, 3, 'Model.description');
  const opcodes = r.tables(root, 1, 'Model.operator_codes').map((p, i) => {
    const dep = r.i8(p, 0, 0, `operator_codes[${i}]`);
    const ext = r.i32(p, 3, 0, `operator_codes[${i}]`);
    const code = Math.max(dep, ext);
    return code === 32 ? `CUSTOM:${r.string(p, 1, `operator_codes[${i}].custom_code`)}` : (BuiltinOp[code] ?? `BUILTIN_${code}`);
  });

  const buffers = r.tables(root, 4, 'Model.buffers').map((p, i) => {
    const v = r.vector(p, 0, 1, `buffers[${i}].data`);
    if (v) return bytes.subarray(v[0], v[0] + v[1]);
    const offset = r.u64(p, 1, `buffers[${i}].offset`);
    const size = r.u64(p, 2, `buffers[${i}].size`);
    if (offset > 1) {
      r.check(offset, size, `buffers[${i}] data (${size} bytes)`);
      return bytes.subarray(offset, offset + size);
    }
    return new Uint8Array(0);
  });

  const subgraphs = r.tables(root, 2, 'Model.subgraphs').map((sg, si): TfliteSubgraph => {
    const tensors = r.tables(sg, 0, `subgraphs[${si}].tensors`).map((t, ti): TfliteTensor => {
      const what = `tensors[${ti}]`;
      const typeCode = r.i8(t, 1, 0, `${what}.type`);
      const q = r.table(t, 4, `${what}.quantization`);
      let quantization: TfliteQuantization | null = null;
      if (q !== null) {
        quantization = {
          min: r.floats(q, 0, `${what}.quantization.min`),
          max: r.floats(q, 1, `${what}.quantization.max`),
          scale: r.floats(q, 2, `${what}.quantization.scale`),
          zeroPoint: r.longs(q, 3, `${what}.quantization.zero_point`),
          quantizedDimension: r.i32(q, 6, 0, `${what}.quantization.quantized_dimension`),
        };
        if (quantization.scale.length === 0) quantization = null;
      }
      return {
        index: ti,
        name: r.string(t, 3, `${what}.name`),
        shape: r.ints(t, 0, `${what}.shape`),
        type: TensorType[typeCode] ?? `TYPE_${typeCode}`,
        buffer: r.u32(t, 2, 0, `${what}.buffer`),
        quantization,
      };
    });
    const operators = r.tables(sg, 3, `subgraphs[${si}].operators`).map((o, oi): TfliteOperator => {
      const what = `operators[${oi}]`;
      const opcodeIndex = r.u32(o, 0, 0, `${what}.opcode_index`);
      if (opcodeIndex >= opcodes.length) r.fail(`${what}.opcode_index ${opcodeIndex} out of ${opcodes.length}`);
      const opcode = opcodes[opcodeIndex];
      const opt = r.table(o, 4, `${what}.builtin_options`);
      return { index: oi, opcode, inputs: r.ints(o, 1, `${what}.inputs`), outputs: r.ints(o, 2, `${what}.outputs`), options: opt === null ? {} : readOptions(r, opcode, opt, what) };
    });
    return {
      name: r.string(sg, 4, `subgraphs[${si}].name`),
      tensors,
      inputs: r.ints(sg, 1, `subgraphs[${si}].inputs`),
      outputs: r.ints(sg, 2, `subgraphs[${si}].outputs`),
      operators,
    };
  });
  return { version, description, subgraphs, buffers };
}

function readOptions(r: Reader, opcode: string, p: number, what: string): TfliteOptions {
  const w = `${what}.builtin_options`;
  const pad = (v: number) => (v === 0 ? 'SAME' : 'VALID') as 'SAME' | 'VALID';
  const act = (v: number) => ACTIVATIONS[v] ?? `ACT_${v}`;
  switch (opcode) {
    case 'CONV_2D':
      return {
        padding: pad(r.i8(p, 0, 0, w)),
        strideW: r.i32(p, 1, 0, w),
        strideH: r.i32(p, 2, 0, w),
        activation: act(r.i8(p, 3, 0, w)),
        dilationW: r.i32(p, 4, 1, w),
        dilationH: r.i32(p, 5, 1, w),
      };
    case 'DEPTHWISE_CONV_2D':
      return {
        padding: pad(r.i8(p, 0, 0, w)),
        strideW: r.i32(p, 1, 0, w),
        strideH: r.i32(p, 2, 0, w),
        depthMultiplier: r.i32(p, 3, 0, w),
        activation: act(r.i8(p, 4, 0, w)),
        dilationW: r.i32(p, 5, 1, w),
        dilationH: r.i32(p, 6, 1, w),
      };
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D':
      return {
        padding: pad(r.i8(p, 0, 0, w)),
        strideW: r.i32(p, 1, 0, w),
        strideH: r.i32(p, 2, 0, w),
        filterWidth: r.i32(p, 3, 0, w),
        filterHeight: r.i32(p, 4, 0, w),
        activation: act(r.i8(p, 5, 0, w)),
      };
    case 'FULLY_CONNECTED':
    case 'ADD':
      return { activation: act(r.i8(p, 0, 0, w)) };
    case 'SOFTMAX':
      return { beta: r.f32(p, 0, 0, w) };
    case 'RESHAPE':
      return { newShape: r.ints(p, 0, w) };
    default:
      return {};
  }
}
