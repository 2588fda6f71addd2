// What the Keras-shaped API needs from its platform, registered once by the platform's entry point
// (`@mnv2/cli/node` registers Dawn + node:fs on import; a browser entry would register
// navigator.gpu + fetch/IndexedDB). Core itself never touches files or creates devices.
import type { Engine } from '../gpu/engine.js';
import type { WeightMap } from '../io/weight-map.js';

/** Platform services used by {@link MobileNetV2.pretrained}, `Model.save` and {@link loadModel}. */
export interface KerasPlatform {
  /** Creates the engine used when no `engine` option is passed (called once, lazily). */
  createEngine?: () => Promise<Engine>;
  /** Resolves a weights spec given as a string (`'imagenet'` or a path) to a Keras-named weight map. */
  loadWeights?: (spec: string, opts: { alpha: number }) => Promise<WeightMap>;
  /** Reads a whole file. */
  readFile?: (path: string) => Promise<Uint8Array>;
  /** Writes a whole file (atomically where the platform can). */
  writeFile?: (path: string, data: Uint8Array) => Promise<void>;
}

const platform: KerasPlatform = {};
let defaultEngine: Promise<Engine> | null = null;

/** Registers platform services (merged into those already registered). */
export function registerKerasPlatform(p: KerasPlatform): void {
  Object.assign(platform, p);
}

/** The registered platform services (read-only view). */
export function kerasPlatform(): Readonly<KerasPlatform> {
  return platform;
}

/** Sets the engine the Keras API uses when none is passed explicitly. */
export function setDefaultEngine(e: Engine): void {
  defaultEngine = Promise.resolve(e);
}

/**
 * The default engine: the one set with {@link setDefaultEngine}, else one created by the platform
 * (e.g. `@mnv2/cli/node` creates a Dawn engine on first use).
 */
export function getDefaultEngine(): Promise<Engine> {
  if (defaultEngine) return defaultEngine;
  if (!platform.createEngine) {
    throw new Error('no engine: import the API from a platform entry (`@mnv2/cli/node` in Node) or call setDefaultEngine(engine) first, or pass { engine }');
  }
  defaultEngine = platform.createEngine();
  defaultEngine.catch(() => (defaultEngine = null));
  return defaultEngine;
}

/** Platform service or a clear error naming what is missing. */
export function need<K extends keyof KerasPlatform>(key: K, what: string): NonNullable<KerasPlatform[K]> {
  const f = platform[key];
  if (!f) throw new Error(`${what} needs file access: import the API from '@mnv2/cli/node' (Node), or use the byte-level form (serialize/deserialize)`);
  return f as NonNullable<KerasPlatform[K]>;
}

/** Prints a line through the host's console (core has no console types; browsers and Node both have one). */
export function printLine(line: string): void {
  (globalThis as { console?: { log(s: string): void } }).console?.log(line);
}
