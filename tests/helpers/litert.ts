// Google's LiteRT.js (@litertjs/core, a dev dependency) in Node: an independent TFLite runtime
// (TFLite's kernels + XNNPACK, compiled to WebAssembly) to run the .tflite files we write.
// LiteRT.js is made for browsers: it loads its Emscripten script with importScripts/<script>; here the
// script runs in this context (its Node branch reads the .wasm with fs), and WebGPU is not used.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { loadAndCompile, loadLiteRt, Tensor, type CompiledModel } from '@litertjs/core';

const require = createRequire(import.meta.url);
const WASM_DIR = join(dirname(require.resolve('@litertjs/core/package.json')), 'wasm') + '/';

let loading: Promise<unknown> | null = null;

/** Loads the LiteRT.js runtime once per process (CPU: XNNPACK in WebAssembly). */
export function liteRt(): Promise<unknown> {
  loading ??= (async () => {
    const g = globalThis as Record<string, unknown>;
    g.self ??= globalThis;
    g.require ??= require;
    g.__dirname ??= WASM_DIR;
    g.__filename ??= join(WASM_DIR, 'litert.js');
    g.importScripts = (url: string | URL) => {
      const file = String(url).replace(/^file:\/\//, '');
      vm.runInThisContext(readFileSync(file, 'utf8'), { filename: file });
    };
    g.Module = { locateFile: (f: string) => WASM_DIR + f, print: () => undefined, printErr: () => undefined };
    // LiteRT logs its setup on the console (INFO lines, and a WebGPU device it cannot create here).
    const { log, warn, error } = console;
    console.log = console.warn = () => undefined;
    console.error = (...a: unknown[]) => (/WebGPU|navigator/.test(String(a[0])) ? undefined : error(...a));
    try {
      await loadLiteRt(WASM_DIR);
    } finally {
      Object.assign(console, { log, warn, error });
    }
  })();
  return loading;
}

export type TypedInput = Float32Array | Uint8Array;

export interface LiteRtModel {
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: { name: string; dtype: string; shape: number[] }[];
  /** Runs one input; returns the first output's values (as stored: float, int8 or uint8). */
  run(input: TypedInput, shape: number[]): Promise<Float32Array | Int8Array | Uint8Array>;
  delete(): void;
}

const shapeOf = (s: unknown) => Object.values(s as Record<string, number>).map(Number);

/** Compiles .tflite bytes on LiteRT's CPU path. */
export async function liteRtModel(bytes: Uint8Array): Promise<LiteRtModel> {
  await liteRt();
  const model: CompiledModel = await loadAndCompile(new Uint8Array(bytes), { accelerator: 'wasm' });
  const details = (d: { name: string; dtype: unknown; shape: unknown }[]) => d.map((x) => ({ name: x.name, dtype: String(x.dtype), shape: shapeOf(x.shape) }));
  return {
    inputs: details(model.getInputDetails() as never),
    outputs: details(model.getOutputDetails() as never),
    async run(input, shape) {
      const t = new Tensor(input as Float32Array<ArrayBuffer>, shape); // LiteRT wants non-shared buffers; ours are
      const outs = await model.run(t);
      t.delete();
      const out = Array.isArray(outs) ? outs[0] : (Object.values(outs as object)[0] as Tensor);
      const data = out.toTypedArray() as Float32Array | Int8Array | Uint8Array;
      const copy = data.slice();
      for (const o of Array.isArray(outs) ? outs : Object.values(outs as object)) (o as Tensor).delete();
      return copy;
    },
    delete: () => model.delete(),
  };
}
