// Keras HDF5 weights: the files Keras downloads for `MobileNetV2(weights='imagenet')`,
// `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}[_no_top].h5`, and any file written
// by Keras 2's `model.save_weights('x.h5')` / `model.save('x.h5')` (Keras 3's "legacy h5" is the same).
//
// Layout (keras/src/legacy/saving/legacy_h5_format.py, tf.keras saving/hdf5_format.py):
//   root (weights-only file) or group `model_weights` (full-model file, beside a `model_config` JSON attr)
//     attrs: layer_names   fixed-length byte strings, every layer in model order (chunked into
//                          layer_names0, layer_names1, … when longer than 64 KiB)
//            backend, keras_version
//     group <layer>        one per layer (created in name order), also for layers without weights
//       attr  weight_names  byte strings `<layer>/<weight>:0` (an empty float64 array when none)
//       dataset <layer>/<weight_name>   e.g. `Conv1/Conv1/kernel:0` — the `/` makes nested groups
//
// The published MobileNetV2 files come from the original Keras port (JonathanCMitchell/
// mobilenet_v2_keras) and use its layer names (`mobl1_conv_1_expand`, `bn1_conv_1_bn_expand`,
// `Logits`, …), not today's `block_1_expand`; Keras loads them by layer order (`load_weights` without
// `by_name`). So do we: when the file's layer names are Keras' own we map by name, otherwise we pair
// the layers that have weights in order, as Keras does, and check every shape.
//
// Reading uses h5wasm (the HDF5 C library in WebAssembly, its ESM build with the wasm inlined) on an
// in-memory file system: bytes in, no file access. It is imported lazily, on the first call.
import type { Dataset as H5Dataset, File as H5File, Group as H5Group } from 'h5wasm';
import { KERAS_ALPHAS } from './tfslim.js';
import { asBytes } from './npy.js';
import { kerasLayers } from '../nn/keras-layers.js';
import { checkIsClean, checkWeights, fmtShape, numel, type WeightCheck, type WeightMap } from './weight-map.js';

/** Input sizes Keras publishes MobileNetV2 weights for. */
export const KERAS_INPUT_SIZES = [96, 128, 160, 192, 224];

export class KerasH5Error extends Error {
  /** The file (or label) the bytes came from. */
  readonly file: string;
  /** The tensor or layer at fault, when there is one (`block_1_expand/kernel`, or a dataset path). */
  readonly tensor?: string;
  constructor(file: string, message: string, tensor?: string) {
    super(`${file}: ${message}`);
    this.name = 'KerasH5Error';
    this.file = file;
    this.tensor = tensor;
  }
}

/** Keras' file name for the ImageNet weights (`float(alpha)` as Python prints it: 1.0, 0.5, 0.35). */
export function kerasWeightsFileName(alpha: number, size: number, includeTop: boolean): string {
  const a = Number.isInteger(alpha) ? alpha.toFixed(1) : String(alpha);
  return `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${a}_${size}${includeTop ? '' : '_no_top'}.h5`;
}

/** Alpha, size and top from a Keras weights file name (any folder prefix), or null when it is not one. */
export function parseKerasWeightsFileName(name: string): { alpha: number; size: number; includeTop: boolean } | null {
  const m = /mobilenet_v2_weights_tf_dim_ordering_tf_kernels_(\d+(?:\.\d+)?)_(\d+)(_no_top)?\.h5$/.exec(name);
  if (!m) return null;
  return { alpha: Number(m[1]), size: Number(m[2]), includeTop: !m[3] };
}

// ---------------------------------------------------------------------------------------------
// HDF5 container checks (before handing the bytes to the library, for clear messages).

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export interface Hdf5Superblock {
  /** Byte offset of the signature (0, or 512·2^k after a user block). */
  offset: number;
  version: number;
  /** Bytes the file must have: base address + end-of-file address. */
  expectedSize: number;
}

/** Finds and reads the HDF5 superblock; null when the bytes have no HDF5 signature. */
export function hdf5Superblock(buffer: ArrayBuffer | ArrayBufferView): Hdf5Superblock | null {
  const bytes = asBytes(buffer);
  for (let off = 0; off + 8 <= bytes.length; off = off === 0 ? 512 : off * 2) {
    if (!SIGNATURE.every((b, i) => bytes[off + i] === b)) continue;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = off + 8 < bytes.length ? bytes[off + 8] : -1;
    // Where the sizes and the addresses (base, …, end of file) sit depends on the version.
    let sizeOfOffsets: number;
    let base: number;
    let eofAt: number;
    if (version === 0 || version === 1) {
      sizeOfOffsets = bytes[off + 13];
      base = off + (version === 0 ? 24 : 28);
      eofAt = base + 2 * sizeOfOffsets;
    } else if (version === 2 || version === 3) {
      sizeOfOffsets = bytes[off + 9];
      base = off + 12;
      eofAt = base + 2 * sizeOfOffsets;
    } else {
      return { offset: off, version, expectedSize: -1 };
    }
    if (![2, 4, 8].includes(sizeOfOffsets) || eofAt + sizeOfOffsets > bytes.length) return { offset: off, version, expectedSize: -1 };
    const read = (at: number) =>
      sizeOfOffsets === 8 ? Number(dv.getBigUint64(at, true)) : sizeOfOffsets === 4 ? dv.getUint32(at, true) : dv.getUint16(at, true);
    return { offset: off, version, expectedSize: read(base) + read(eofAt) };
  }
  return null;
}

/** Why these bytes cannot be an intact HDF5 file, or null when the container looks whole. */
export function hdf5Problem(buffer: ArrayBuffer | ArrayBufferView): string | null {
  const bytes = asBytes(buffer);
  if (bytes.length === 0) return 'empty file (0 bytes), not an HDF5 file';
  const sb = hdf5Superblock(bytes);
  if (!sb) {
    const head = String.fromCharCode(...bytes.subarray(0, Math.min(64, bytes.length))).trimStart().toLowerCase();
    let what = '';
    if (head.startsWith('<!doctype') || head.startsWith('<html') || head.startsWith('<?xml')) what = ' (it looks like an HTML/XML page, e.g. an error page saved instead of the file)';
    else if (bytes[0] === 0x50 && bytes[1] === 0x4b) what = ' (it is a zip archive: a Keras 3 .keras file?)';
    else if (bytes.length < 8) what = ` (only ${bytes.length} bytes)`;
    return `not an HDF5 file: no HDF5 signature${what}`;
  }
  if (sb.expectedSize < 0) return sb.version > 3 ? `unsupported HDF5 superblock version ${sb.version}` : `truncated or corrupt HDF5 superblock (${bytes.length} bytes)`;
  if (bytes.length < sb.expectedSize) {
    return `truncated: ${bytes.length} bytes, but the HDF5 superblock says the file has ${sb.expectedSize} (an interrupted download?)`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// h5wasm, loaded once on first use.

type H5Lib = typeof import('h5wasm')['default'];
type H5Module = Awaited<H5Lib['ready']>;

let h5Loading: Promise<{ h5: H5Lib; mod: H5Module }> | null = null;
let fileSeq = 0;

/** h5wasm and its ready module (loaded once; the .h5 writer shares it). */
export async function loadH5(): Promise<{ h5: H5Lib; mod: H5Module }> {
  h5Loading ??= import('h5wasm').then(async (m) => ({ h5: m.default, mod: await m.default.ready }));
  return h5Loading;
}

/** The most specific line of an HDF5 error stack (`… in H5F__super_read(): truncated file: …`). */
function hdf5Message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const lines = text.split('\n').map((l) => /#\d+: .* in [\w.]+\(\): (.*)$/.exec(l)?.[1]).filter((l): l is string => !!l);
  return lines.length ? lines[lines.length - 1] : text.split('\n')[0];
}

/**
 * Opens the bytes as an HDF5 file (in h5wasm's in-memory file system) and runs `fn` on it; the file
 * is closed and removed afterwards. HDF5 errors throw (instead of printing) while `fn` runs.
 */
export async function withHdf5File<T>(buffer: ArrayBuffer | ArrayBufferView, file: string, fn: (f: H5File, h5: H5Lib) => T): Promise<T> {
  const bytes = asBytes(buffer);
  const problem = hdf5Problem(bytes);
  if (problem) throw new KerasH5Error(file, problem);
  const { h5, mod } = await loadH5();
  const path = `/mnv2-h5-${++fileSeq}.h5`;
  mod.FS.writeFile(path, bytes);
  mod.activate_throwing_error_handler();
  let f: H5File | null = null;
  try {
    try {
      f = new h5.File(path, 'r');
    } catch (e) {
      throw new KerasH5Error(file, `cannot open as HDF5: ${hdf5Message(e)}`);
    }
    try {
      return fn(f, h5);
    } catch (e) {
      if (e instanceof KerasH5Error) throw e;
      throw new KerasH5Error(file, `cannot read: ${hdf5Message(e)}`);
    }
  } finally {
    try {
      f?.close();
    } catch {
      // already unusable
    }
    mod.deactivate_throwing_error_handler();
    try {
      mod.FS.unlink(path);
    } catch {
      // not there
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Raw Keras layout.

export interface H5Weight {
  /** As listed in `weight_names` (`Conv1/kernel:0`). */
  name: string;
  /** Dataset path in the file (`model_weights/Conv1/Conv1/kernel:0`). */
  path: string;
  shape: number[];
  data: Float32Array;
}

export interface H5Layer {
  name: string;
  weights: H5Weight[];
}

export interface KerasH5Contents {
  /** 'weights': `save_weights` file (layer groups at the root); 'model': `save` file (under `model_weights`). */
  layout: 'weights' | 'model';
  /** Every layer in `layer_names` order, those without weights included. */
  layers: H5Layer[];
  kerasVersion?: string;
  backend?: string;
  /** The input size from `model_config` (full-model files), when square. */
  inputSize?: number;
}

/** A string list from an attribute value (fixed or variable length strings; an empty array for none). */
function stringList(v: unknown): string[] | null {
  if (v === null || v === undefined) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => (x instanceof Uint8Array ? String.fromCharCode(...x) : String(x)).replace(/\0+$/, ''));
  if (ArrayBuffer.isView(v) && (v as unknown as { length: number }).length === 0) return [];
  return null;
}

function attrNames(g: H5Group): Set<string> {
  return new Set(Object.keys(g.attrs));
}

/** Keras' load_attributes_from_hdf5_group: `name`, or the chunks `name0`, `name1`, … */
function readStringAttr(g: H5Group, name: string, names: Set<string>, file: string, where: string): string[] | null {
  const one = (n: string): string[] => {
    const list = stringList(g.attrs[n].value);
    if (!list) throw new KerasH5Error(file, `attribute ${n} of ${where} is not a list of strings`);
    return list;
  };
  if (names.has(name)) return one(name);
  if (!names.has(`${name}0`)) return null;
  const out: string[] = [];
  for (let i = 0; names.has(`${name}${i}`); i++) out.push(...one(`${name}${i}`));
  return out;
}

function readScalarString(g: H5Group, name: string, names: Set<string>): string | undefined {
  if (!names.has(name)) return undefined;
  const v = g.attrs[name].value;
  const list = stringList(v);
  return list && list.length === 1 ? list[0] : undefined;
}

function inputSizeFromConfig(json: string | undefined): number | undefined {
  if (!json) return undefined;
  try {
    const cfg = JSON.parse(json) as { config?: { layers?: { class_name?: string; config?: Record<string, unknown> }[] } };
    for (const l of cfg.config?.layers ?? []) {
      if (l.class_name !== 'InputLayer') continue;
      const s = (l.config?.batch_input_shape ?? l.config?.batch_shape) as unknown;
      if (Array.isArray(s) && s.length === 4 && typeof s[1] === 'number' && s[1] === s[2]) return s[1];
    }
  } catch {
    // not JSON: no size
  }
  return undefined;
}

function datasetFloats(ds: H5Dataset, file: string, tensor: string): { shape: number[]; data: Float32Array } {
  const meta = ds.metadata;
  const shape = meta.shape ?? [];
  // type 0 = integer, 1 = float (H5T_class_t)
  if (meta.type !== 0 && meta.type !== 1) throw new KerasH5Error(file, `tensor ${tensor} is not numeric (HDF5 type class ${meta.type})`, tensor);
  if (meta.type === 1 && meta.size !== 4 && meta.size !== 8) throw new KerasH5Error(file, `tensor ${tensor} is float${meta.size * 8}, which is not supported (float32/float64 are)`, tensor);
  const v = ds.value;
  let data: Float32Array;
  if (v instanceof Float32Array) data = v;
  else if (v instanceof BigInt64Array || v instanceof BigUint64Array) data = Float32Array.from(v, (x) => Number(x));
  else if (ArrayBuffer.isView(v)) data = Float32Array.from(v as unknown as ArrayLike<number>);
  else if (typeof v === 'number') data = new Float32Array([v]);
  else throw new KerasH5Error(file, `tensor ${tensor}: cannot read its values`, tensor);
  if (data.length !== numel(shape)) throw new KerasH5Error(file, `tensor ${tensor} has shape ${fmtShape(shape)} but ${data.length} values`, tensor);
  return { shape: [...shape], data };
}

/** Reads the Keras weight layout of an .h5 file: every layer of `layer_names` with its weights, in order. */
export async function readKerasH5(buffer: ArrayBuffer | ArrayBufferView, file = '<h5>'): Promise<KerasH5Contents> {
  return withHdf5File(buffer, file, (f, h5) => {
    let root: H5Group = f;
    let rootNames = attrNames(f);
    const fileAttrs = rootNames;
    let layout: KerasH5Contents['layout'] = 'weights';
    let prefix = '';
    if (!rootNames.has('layer_names') && !rootNames.has('layer_names0')) {
      const mw = f.get('model_weights');
      if (mw instanceof h5.Group && (attrNames(mw).has('layer_names') || attrNames(mw).has('layer_names0'))) {
        root = mw;
        rootNames = attrNames(mw);
        layout = 'model';
        prefix = 'model_weights/';
      } else {
        const keys = f.keys();
        const hint = keys.includes('layers') || keys.includes('vars') ? ' (this looks like a Keras 3 `.weights.h5` file, which is a different layout; save with Keras 2 / tf.keras or use the published weights)' : '';
        throw new KerasH5Error(file, `not a Keras weights file: no layer_names attribute at the root or in model_weights${hint}; top-level entries: ${keys.slice(0, 10).join(', ') || 'none'}`);
      }
    }
    const layerNames = readStringAttr(root, 'layer_names', rootNames, file, layout === 'model' ? 'model_weights' : 'the root group');
    if (!layerNames) throw new KerasH5Error(file, 'missing layer_names attribute');
    const layers: H5Layer[] = [];
    for (const layer of layerNames) {
      const g = root.get(layer);
      if (!(g instanceof h5.Group)) throw new KerasH5Error(file, `layer ${layer} is listed in layer_names but its group ${prefix}${layer} is missing`, layer);
      const wn = readStringAttr(g, 'weight_names', attrNames(g), file, `layer ${layer}`) ?? [];
      const weights: H5Weight[] = [];
      for (const name of wn) {
        const path = `${prefix}${layer}/${name}`;
        const ds = g.get(name);
        if (!(ds instanceof h5.Dataset)) throw new KerasH5Error(file, `tensor ${path} is listed in weight_names of layer ${layer} but there is no such dataset`, `${layer}/${name}`);
        weights.push({ name, path, ...datasetFloats(ds, file, path) });
      }
      layers.push({ name: layer, weights });
    }
    const configAttr = readScalarString(f, 'model_config', fileAttrs);
    return {
      layout,
      layers,
      kerasVersion: readScalarString(root, 'keras_version', rootNames) ?? readScalarString(f, 'keras_version', fileAttrs),
      backend: readScalarString(root, 'backend', rootNames) ?? readScalarString(f, 'backend', fileAttrs),
      inputSize: inputSizeFromConfig(configAttr),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Keras names.

export interface KerasH5Import {
  /** Keras names (`Conv1/kernel`, `block_1_depthwise/depthwise_kernel`, …) with Keras shapes. */
  weights: WeightMap;
  alpha: number;
  includeTop: boolean;
  classes?: number;
  /** From the options, the file name, or the model config; undefined when none says. */
  inputSize?: number;
  layout: 'weights' | 'model';
  /** 'name': the file uses Keras' layer names; 'order': legacy names, paired by layer order like Keras' load_weights. */
  matchedBy: 'name' | 'order';
  kerasVersion?: string;
  backend?: string;
  /** Keras name → dataset path in the file. */
  sourceNames: Map<string, string>;
  /** Remarks (e.g. a file name that disagrees with the contents). */
  notes: string[];
  /** With `otherLayers`: the weights of layers that are not MobileNetV2's (a head built on the base: `dense/kernel`). */
  others?: WeightMap;
}

export interface KerasH5Options {
  /** Names the file in errors; also read for alpha/size/top when it is a Keras weights file name. */
  file?: string;
  /** Expected width; an error if the file holds another. Default: from the file name, else inferred. */
  alpha?: number;
  /** Expected head: true = must have the ImageNet/`classes` head, false = must be the base only. */
  includeTop?: boolean;
  classes?: number;
  inputSize?: number;
  /** Widths tried when inferring (default Keras' 0.35 … 1.4). */
  alphas?: number[];
  /**
   * Accept layers that are not MobileNetV2's, as in a model built on the base (the transfer-learning
   * tutorial's `model.save_weights`: a nested base plus pooling/dropout/Dense): their weights come back
   * in `others` instead of being refused as unexpected. Only for files with Keras' layer names.
   */
  otherLayers?: boolean;
}

const stripIndex = (s: string) => s.replace(/:\d+$/, '');
const lastPart = (s: string) => s.slice(s.lastIndexOf('/') + 1);

/** Every layer name Keras' MobileNetV2 uses (they do not depend on alpha). */
const KERAS_LAYER_NAMES = new Set(kerasLayers({ alpha: 1, inputSize: 224, includeTop: true }).map((l) => l.name));

interface Candidate {
  alpha: number;
  includeTop: boolean;
  classes: number;
  weights: WeightMap;
  sourceNames: Map<string, string>;
  check: WeightCheck;
  /** Layer-level problems of order matching (weight counts). */
  problems: string[];
}

/** Keras name of each tensor, by the names in the file (`<layer>/<weight>`). */
function mapByName(layers: H5Layer[], file: string): { weights: WeightMap; sourceNames: Map<string, string> } {
  const weights: WeightMap = new Map();
  const sourceNames = new Map<string, string>();
  for (const l of layers) {
    for (const w of l.weights) {
      // `Conv1/kernel:0` → Conv1/kernel; a weight of a nested model keeps its own layer name.
      const parts = stripIndex(w.name).split('/');
      const owner = parts.length >= 2 && KERAS_LAYER_NAMES.has(parts[parts.length - 2]) ? parts[parts.length - 2] : l.name;
      const key = `${owner}/${parts[parts.length - 1]}`;
      if (weights.has(key)) throw new KerasH5Error(file, `tensors ${sourceNames.get(key)} and ${w.path} both map to ${key}`, key);
      weights.set(key, { shape: w.shape, data: w.data });
      sourceNames.set(key, w.path);
    }
  }
  return { weights, sourceNames };
}

/** Pairs the file's layers that have weights with Keras' in order (Keras' topological load_weights). */
function mapByOrder(layers: H5Layer[], alpha: number, includeTop: boolean, classes: number) {
  const expected = kerasLayers({ alpha, inputSize: 224, includeTop, classes }).filter((l) => l.weights.length > 0);
  const got = layers.filter((l) => l.weights.length > 0);
  const weights: WeightMap = new Map();
  const sourceNames = new Map<string, string>();
  const problems: string[] = [];
  const n = Math.min(expected.length, got.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const g = got[i];
    if (e.weights.length !== g.weights.length) {
      problems.push(`layer ${g.name} (paired with ${e.name}) has ${g.weights.length} weights, ${e.name} has ${e.weights.length}`);
      continue;
    }
    // Same short names (kernel, gamma, …) pair by name, else by position.
    const eShort = e.weights.map((w) => lastPart(w.name));
    const gShort = g.weights.map((w) => lastPart(stripIndex(w.name)));
    const byShort = eShort.every((s) => gShort.includes(s)) && new Set(gShort).size === gShort.length;
    e.weights.forEach((ew, j) => {
      const gw = byShort ? g.weights[gShort.indexOf(eShort[j])] : g.weights[j];
      weights.set(ew.name, { shape: gw.shape, data: gw.data });
      sourceNames.set(ew.name, gw.path);
    });
  }
  if (got.length > expected.length) {
    problems.push(`the file has ${got.length} layers with weights, Keras MobileNetV2 has ${expected.length}; extra: ${got.slice(n).map((l) => l.name).join(', ')}`);
  }
  if (got.length < expected.length) {
    problems.push(`the file has ${got.length} layers with weights, Keras MobileNetV2 has ${expected.length}; missing after ${got[n - 1]?.name ?? 'the start'}: ${expected.slice(n).map((l) => l.name).join(', ')}`);
  }
  return { weights, sourceNames, problems };
}

const badness = (c: Candidate) => c.check.missing.length + c.check.unexpected.length + c.check.mismatched.length + c.problems.length;

function describeCandidate(c: Candidate, byOrder: boolean, limit = 12): string {
  const src = (name: string) => (byOrder && c.sourceNames.has(name) ? ` (file: ${c.sourceNames.get(name)})` : '');
  const list = (title: string, xs: string[]) =>
    xs.length ? [`${title} (${xs.length}): ${xs.slice(0, limit).join(', ')}${xs.length > limit ? `, … ${xs.length - limit} more` : ''}`] : [];
  const mism = c.check.mismatched.map((m) => {
    const name = m.slice(0, m.indexOf(':'));
    return `${m}${src(name)}`;
  });
  return [
    ...c.problems,
    ...list('missing tensors', c.check.missing),
    ...list('unexpected tensors', c.check.unexpected.map((n) => `${n}${c.sourceNames.has(n) ? ` (${c.sourceNames.get(n)})` : ''}`)),
    ...list('wrong shapes', mism),
  ].join('\n');
}

const fmtAlpha = (a: number) => (Number.isInteger(a) ? a.toFixed(1) : String(a));

/**
 * Reads a Keras MobileNetV2 .h5 weights file into a weight map with Keras names and shapes, and
 * checks it against the Keras weight list (every tensor present, every shape exact). Throws a
 * KerasH5Error naming the file (and the tensor at fault) for non-HDF5 or truncated bytes, a missing
 * dataset, wrong shapes, or missing/extra tensors.
 */
export async function importKerasH5(buffer: ArrayBuffer | ArrayBufferView, opts: KerasH5Options = {}): Promise<KerasH5Import> {
  const file = opts.file ?? '<h5>';
  const fromName = parseKerasWeightsFileName(file);
  const contents = await readKerasH5(buffer, file);
  const weighted = contents.layers.filter((l) => l.weights.length > 0);
  if (weighted.length === 0) throw new KerasH5Error(file, `no weights: the ${contents.layers.length} layers in layer_names have no weight_names`);
  // Keras' names (today's files, and models built with keras.applications) map by name; the
  // published files' legacy names (`mobl1_conv_1_expand`, only Conv1/Conv_1 and their BN in common)
  // map by order.
  const isKerasLayer = (l: H5Layer) => KERAS_LAYER_NAMES.has(l.name) || l.weights.every((w) => KERAS_LAYER_NAMES.has(stripIndex(w.name).split('/').slice(-2)[0]));
  const byName = weighted.filter(isKerasLayer).length * 2 >= weighted.length;
  const named = byName ? mapByName(contents.layers, file) : null;
  let others: WeightMap | undefined;
  if (named && opts.otherLayers) {
    others = new Map();
    for (const [k, v] of [...named.weights]) {
      if (KERAS_LAYER_NAMES.has(k.slice(0, k.lastIndexOf('/')))) continue;
      others.set(k, v);
      named.weights.delete(k);
    }
  }

  // The head: from the names, or (legacy names) a last layer with a 1-D bias.
  const lastW = weighted[weighted.length - 1].weights;
  const fileHasTop = named ? named.weights.has('predictions/kernel') || named.weights.has('predictions/bias') : lastW.length === 2 && lastW[1].shape.length === 1 && lastW[0].shape.length === 2;
  const fileClasses = named ? named.weights.get('predictions/bias')?.shape[0] ?? named.weights.get('predictions/kernel')?.shape[1] : fileHasTop ? lastW[1].shape[0] : undefined;
  const includeTop = opts.includeTop ?? fileHasTop;
  const classes = opts.classes ?? fileClasses ?? 1000;

  const hinted = opts.alpha ?? fromName?.alpha;
  const alphas = [...new Set([...(hinted !== undefined ? [hinted] : []), ...(opts.alphas ?? KERAS_ALPHAS)])];
  const candidates: Candidate[] = [];
  for (const alpha of alphas) {
    const expected = kerasLayers({ alpha, inputSize: 224, includeTop, classes }).flatMap((l) => l.weights);
    const m = named ? { ...named, problems: [] as string[] } : mapByOrder(contents.layers, alpha, includeTop, classes);
    const c: Candidate = { alpha, includeTop, classes, weights: m.weights, sourceNames: m.sourceNames, check: checkWeights(m.weights, expected), problems: m.problems };
    candidates.push(c);
    if (checkIsClean(c.check) && c.problems.length === 0) break;
  }
  const clean = candidates.find((c) => checkIsClean(c.check) && c.problems.length === 0);
  const what = (a: number) => `Keras MobileNetV2 alpha=${fmtAlpha(a)}${includeTop ? ` with a ${classes}-class top` : ' (no top)'}`;
  const how = byName ? '' : ' (legacy layer names, paired by layer order as Keras does)';

  if (!clean) {
    // Report against the alpha asked for (or named), else the closest.
    const target = (hinted !== undefined ? candidates.find((c) => c.alpha === hinted) : undefined) ?? [...candidates].sort((a, b) => badness(a) - badness(b))[0];
    const first = target.check.mismatched[0]?.split(':')[0] ?? target.check.missing[0] ?? target.check.unexpected[0];
    const topNote =
      opts.includeTop === true && !fileHasTop ? '\n(the file has no classifier head: it is a _no_top file)' : opts.includeTop === false && fileHasTop ? '\n(the file has a classifier head; pass includeTop to accept it)' : '';
    throw new KerasH5Error(file, `weights do not match ${what(target.alpha)}${how}:\n${describeCandidate(target, !byName)}${topNote}`, first);
  }

  const notes: string[] = [];
  if (opts.alpha !== undefined && clean.alpha !== opts.alpha) {
    const asked = candidates.find((c) => c.alpha === opts.alpha)!;
    const first = asked.check.mismatched[0]?.split(':')[0] ?? asked.check.missing[0] ?? asked.check.unexpected[0];
    throw new KerasH5Error(file, `expected alpha ${fmtAlpha(opts.alpha)} but the weights are ${what(clean.alpha)}; against alpha=${fmtAlpha(opts.alpha)}:\n${describeCandidate(asked, !byName)}`, first);
  }
  if (fromName && fromName.alpha !== clean.alpha) notes.push(`the file name says alpha ${fmtAlpha(fromName.alpha)} but the weights are alpha ${fmtAlpha(clean.alpha)}`);
  if (fromName && fromName.includeTop !== clean.includeTop) notes.push(`the file name says ${fromName.includeTop ? 'with' : 'without'} top but the weights are ${clean.includeTop ? 'with' : 'without'}`);

  // Keras' own order (layer order, weights in layer order) for a stable map.
  const ordered: WeightMap = new Map();
  for (const w of kerasLayers({ alpha: clean.alpha, inputSize: 224, includeTop: clean.includeTop, classes: clean.classes }).flatMap((l) => l.weights)) {
    ordered.set(w.name, clean.weights.get(w.name)!);
  }
  return {
    weights: ordered,
    alpha: clean.alpha,
    includeTop: clean.includeTop,
    classes: clean.includeTop ? clean.classes : undefined,
    inputSize: opts.inputSize ?? fromName?.size ?? contents.inputSize,
    layout: contents.layout,
    matchedBy: byName ? 'name' : 'order',
    kerasVersion: contents.kerasVersion,
    backend: contents.backend,
    sourceNames: clean.sourceNames,
    notes,
    ...(others ? { others } : {}),
  };
}
