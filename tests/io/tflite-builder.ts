// Builds small TFLite flatbuffers for tests: graphs as other converters write them (FLOAT16 weights
// behind DEQUANTIZE, PAD before stride-2 depthwise, odd options), encoded by the core writer's
// schema-level `encodeTfliteRaw` (schema field ids as in packages/core/src/io/tflite-schema.ts).
import { architecture } from '../../packages/core/src/nn/architecture.js';
import { encodeTfliteRaw, type TfliteOptionField } from '../../packages/core/src/export/tflite-writer.js';

export interface TensorSpec {
  name: string;
  shape: number[];
  type?: number; // 0 FLOAT32, 1 FLOAT16, 2 INT32, 3 UINT8, 9 INT8
  data?: Uint8Array;
  quant?: { scale: number[]; zeroPoint: number[]; dim?: number };
}
export interface OpSpec {
  code: number; // builtin operator code
  inputs: number[];
  outputs: number[];
  /** [union type, table fields as [id, kind, value]] */
  options?: [number, TfliteOptionField[]];
}

/** The graph as a .tflite file, through the core writer's schema-level encoder (one flatbuffer writer). */
export function buildTflite(tensors: TensorSpec[], ops: OpSpec[], inputs: number[], outputs: number[]): Uint8Array {
  return encodeTfliteRaw({
    tensors: tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type ?? 0, data: t.data, quant: t.quant && { scale: t.quant.scale, zeroPoint: t.quant.zeroPoint, dimension: t.quant.dim } })),
    ops: ops.map((o) => ({ code: o.code, inputs: o.inputs, outputs: o.outputs, options: o.options && { type: o.options[0], fields: o.options[1] } })),
    inputs,
    outputs,
    description: 'test model',
  });
}

const f32 = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));
function f16(a: number[]): Uint8Array {
  // Exact for small integers and quarter steps.
  const out = new Uint8Array(a.length * 2);
  const dv = new DataView(out.buffer);
  a.forEach((x, i) => {
    const s = x < 0 ? 0x8000 : 0;
    const v = Math.abs(x);
    if (v === 0) return dv.setUint16(i * 2, s, true);
    const e = Math.floor(Math.log2(v));
    dv.setUint16(i * 2, s | ((e + 15) << 10) | Math.round((v / 2 ** e - 1) * 1024), true);
  });
  return out;
}

/** Value of OHWI kernel element (o,h,w,i) in the synthetic float model: distinct and exact in f16/f32. */
export const kval = (o: number, h: number, w: number, i: number) => o * 16 + h * 4 + w + i / 4;

/**
 * A float MobileNetV2 (Keras graph shape: PAD + VALID depthwise on stride 2, MEAN, FULLY_CONNECTED)
 * with kernels kval(o,h,w,i), biases = channel index, and Conv1's kernel stored as FLOAT16 behind a
 * DEQUANTIZE op. `mutate` may change the op list before building.
 */
export function syntheticMobileNetV2(alpha: number, classes: number, mutate?: (ops: OpSpec[]) => void): Uint8Array {
  const a = architecture(alpha);
  const tensors: TensorSpec[] = [];
  const ops: OpSpec[] = [];
  const add = (t: TensorSpec) => tensors.push(t) - 1;
  const conv = (x: number, kind: 'full' | 'dw' | 'pw', inC: number, outC: number, stride: number, relu6: boolean, name: string, half = false) => {
    const k = kind === 'full' ? 3 : kind === 'dw' ? 3 : 1;
    const shape = kind === 'dw' ? [1, 3, 3, outC] : [outC, k, k, inC];
    const vals: number[] = [];
    if (kind === 'dw') for (let h = 0; h < 3; h++) for (let w = 0; w < 3; w++) for (let c = 0; c < outC; c++) vals.push(kval(c, h, w, 0));
    else for (let o = 0; o < outC; o++) for (let h = 0; h < k; h++) for (let w = 0; w < k; w++) for (let i = 0; i < inC; i++) vals.push(kval(o, h, w, i));
    let wt: number;
    if (half) {
      const raw = add({ name: `${name}/kernel_f16`, shape, type: 1, data: f16(vals) });
      wt = add({ name: `${name}/kernel`, shape });
      ops.push({ code: 6, inputs: [raw], outputs: [wt] });
    } else wt = add({ name: `${name}/kernel`, shape, data: f32(new Float32Array(vals)) });
    const bias = add({ name: `${name}/bias`, shape: [outC], data: f32(new Float32Array(outC).map((_, c) => c)) });
    const y = add({ name: `${name}/out`, shape: [1, 8, 8, outC] });
    const act = relu6 ? 3 : 0;
    if (kind === 'dw') ops.push({ code: 4, inputs: [x, wt, bias], outputs: [y], options: [2, [[0, 'i8', stride === 2 ? 1 : 0], [1, 'i32', stride], [2, 'i32', stride], [3, 'i32', 1], [4, 'i8', act]]] });
    else ops.push({ code: 3, inputs: [x, wt, bias], outputs: [y], options: [1, [[0, 'i8', 0], [1, 'i32', stride], [2, 'i32', stride], [3, 'i8', act]]] });
    return y;
  };
  const input = add({ name: 'input', shape: [1, 96, 96, 3], type: 3, data: undefined, quant: { scale: [1 / 127.5], zeroPoint: [127] } });
  const x0 = add({ name: 'input_f', shape: [1, 96, 96, 3] });
  ops.push({ code: 6, inputs: [input], outputs: [x0] });
  let x = conv(x0, 'full', 3, a.stemChannels, 2, true, 'Conv1', true);
  for (const blk of a.blocks) {
    const p = blk.index === 0 ? 'expanded_conv' : `block_${blk.index}`;
    const bin = x;
    if (blk.expansion !== 1) x = conv(x, 'pw', blk.inChannels, blk.expandedChannels, 1, true, `${p}_expand`);
    if (blk.stride === 2) {
      const pads = add({ name: `${p}_pad/paddings`, shape: [4, 2], type: 2, data: new Uint8Array(new Int32Array([0, 0, 0, 1, 0, 1, 0, 0]).buffer) });
      const y = add({ name: `${p}_pad`, shape: [1, 9, 9, blk.expandedChannels] });
      ops.push({ code: 34, inputs: [x, pads], outputs: [y] });
      x = y;
    }
    x = conv(x, 'dw', blk.expandedChannels, blk.expandedChannels, blk.stride, true, `${p}_depthwise`);
    x = conv(x, 'pw', blk.expandedChannels, blk.outChannels, 1, false, `${p}_project`);
    if (blk.residual) {
      const y = add({ name: `${p}_add`, shape: [1, 8, 8, blk.outChannels] });
      ops.push({ code: 0, inputs: [x, bin], outputs: [y], options: [11, [[0, 'i8', 0]]] });
      x = y;
    }
  }
  x = conv(x, 'pw', a.blocks[16].outChannels, a.lastChannels, 1, true, 'Conv_1');
  const axes = add({ name: 'mean/axes', shape: [2], type: 2, data: new Uint8Array(new Int32Array([1, 2]).buffer) });
  const pooled = add({ name: 'pooled', shape: [1, a.lastChannels] });
  ops.push({ code: 40, inputs: [x, axes], outputs: [pooled] });
  const fw = new Float32Array(classes * a.lastChannels).map((_, j) => Math.floor(j / a.lastChannels) * 10000 + (j % a.lastChannels));
  const w = add({ name: 'predictions/kernel', shape: [classes, a.lastChannels], data: f32(fw) });
  const bias = add({ name: 'predictions/bias', shape: [classes], data: f32(new Float32Array(classes).map((_, c) => -c)) });
  const logits = add({ name: 'logits', shape: [1, classes] });
  ops.push({ code: 9, inputs: [pooled, w, bias], outputs: [logits], options: [8, [[0, 'i8', 0]]] });
  const probs = add({ name: 'probs', shape: [1, classes] });
  ops.push({ code: 25, inputs: [logits], outputs: [probs], options: [9, [[0, 'f32', 1]]] });
  mutate?.(ops);
  return buildTflite(tensors, ops, [input], [probs]);
}
