// ImageNet class names, parsed from bytes (platform-neutral: the caller reads the file):
//  - the 1001-line text list of the TF-Slim / TFLite / Coral models (`imagenet_labels_1001_coral.txt`):
//    line 0 is `background`, line k+1 is Keras class k; lines may carry an index prefix ("0  background");
//  - Keras' `imagenet_class_index.json` ({"0": ["n01440764", "tench"], ...}, 1000 classes).
// Names are for display: Keras' underscores become spaces ("Egyptian_cat" → "Egyptian cat"), so both
// sources give the same text for the same class.
import { decodeUtf8 } from '../io/utf8.js';

export interface ClassLabels {
  /** Display name of each model output index. */
  names: string[];
  /** WordNet ids (`n02124075`) where the source has them, by model output index. */
  synsets?: string[];
  /** True when index 0 is `background` (1001-way TF-Slim heads). */
  background: boolean;
  /** Where the labels came from (a file name), for messages. */
  source: string;
}

export class LabelsError extends Error {
  constructor(file: string, message: string) {
    super(`labels '${file}': ${message}`);
    this.name = 'LabelsError';
  }
}

const toText = (bytes: ArrayBuffer | ArrayBufferView, file: string): string => {
  const b = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return decodeUtf8(b, true).replace(/^\uFEFF/, '');
  } catch (e) {
    throw new LabelsError(file, `not UTF-8 text (${(e as Error).message})`);
  }
};

/** A plain-text label list: one class per line (blank trailing lines ignored, optional "N " / "N:" index prefix). */
export function parseLabelLines(bytes: ArrayBuffer | ArrayBufferView, file = '<labels.txt>'): ClassLabels {
  const lines = toText(bytes, file).split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new LabelsError(file, 'empty');
  // An index prefix is used only when every line has it and the indices run 0, 1, 2, ...
  const prefixed = lines.map((l) => /^\s*(\d+)[\s:]+(.*)$/.exec(l));
  const indexed = prefixed.every((m, i) => m && Number(m[1]) === i);
  const names = lines.map((l, i) => (indexed ? prefixed[i]![2] : l).trim());
  const background = names.length === 1001 && /^background$/i.test(names[0]);
  return { names, background, source: file };
}

/** Keras' imagenet_class_index.json: {"<index>": ["<synset>", "<name>"], ...} with indices 0..K−1. */
export function parseKerasClassIndex(bytes: ArrayBuffer | ArrayBufferView, file = '<imagenet_class_index.json>'): ClassLabels {
  let json: unknown;
  try {
    json = JSON.parse(toText(bytes, file));
  } catch (e) {
    throw new LabelsError(file, `not JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LabelsError(file, 'expected a JSON object {"0": ["n01440764", "tench"], ...}');
  const entries = Object.entries(json as Record<string, unknown>);
  const names: string[] = new Array(entries.length);
  const synsets: string[] = new Array(entries.length);
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length) throw new LabelsError(file, `key "${k}" is not an index in 0..${entries.length - 1}`);
    if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') {
      throw new LabelsError(file, `entry "${k}" must be ["<synset>", "<name>"]`);
    }
    synsets[i] = v[0];
    names[i] = v[1].replace(/_/g, ' ');
  }
  return { names, synsets, background: false, source: file };
}

/** Parses either format: JSON when the text starts with `{`, else one label per line. */
export function parseLabels(bytes: ArrayBuffer | ArrayBufferView, file = '<labels>'): ClassLabels {
  const text = toText(bytes, file);
  return text.trimStart().startsWith('{') ? parseKerasClassIndex(bytes, file) : parseLabelLines(bytes, file);
}

/**
 * Labels for a model with `classes` outputs: `labels` when its count fits (a 1000-name list for a 1001-way
 * head gets `background` prepended; a 1001-name list for a 1000-way head loses it), else "class N".
 */
export function labelsForClasses(classes: number, labels?: ClassLabels | null): ClassLabels {
  if (labels) {
    const n = labels.names.length;
    if (n === classes) return labels;
    if (n === 1000 && classes === 1001) {
      return { names: ['background', ...labels.names], synsets: labels.synsets && ['', ...labels.synsets], background: true, source: labels.source };
    }
    if (n === 1001 && classes === 1000 && labels.background) {
      return { names: labels.names.slice(1), synsets: labels.synsets?.slice(1), background: false, source: labels.source };
    }
  }
  return { names: Array.from({ length: classes }, (_, i) => `class ${i}`), background: false, source: 'none' };
}
