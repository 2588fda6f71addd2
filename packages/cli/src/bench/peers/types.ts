// What `mnv2 bench infer` needs from each implementation it times: set up once (init), prepare a
// runner per configuration (same network, same weights, same input), run it to completion (output read
// back to the host), dispose. A peer that cannot load or run is reported as failed, not a crash.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';

export interface InferConfig {
  alpha: number;
  size: number;
  batch: number;
  classes: number;
}

/** The network and input every peer runs for one configuration (weights are ours, read back). */
export interface SharedModel {
  cfg: InferConfig;
  /** Keras-named weights in our layouts (HWIO, [3,3,C] depthwise, [cin,cout] pointwise, Dense [in,out]). */
  weights: Map<string, Float32Array>;
  /** Input batch, NHWC. */
  input: Float32Array;
}

export interface PeerRunner {
  /** One inference of the whole batch, awaited until the logits are on the host. */
  run(): Promise<Float32Array>;
  dispose(): Promise<void> | void;
}

export interface Peer {
  readonly id: string;
  /** Human-readable name for tables. */
  readonly label: string;
  /** Versions of the packages involved, filled by init. */
  version: string;
  /** Adapter / device description, where the peer can tell. */
  adapter?: string;
  init(): Promise<void>;
  prepare(m: SharedModel): Promise<PeerRunner>;
  dispose(): Promise<void>;
}

/**
 * Loads a package by a specifier that the bundler does not see (the peers are root devDependencies:
 * they must stay out of the CLI bundle and are optional at run time).
 */
export async function importPeer<T>(specifier: string): Promise<T> {
  const mod = (await import(/* @vite-ignore */ specifier)) as T & { default?: T };
  // CommonJS packages: named exports may only be on `default`
  return mod.default && typeof mod.default === 'object' ? ({ ...mod.default, ...mod } as T) : mod;
}

/** Version of an installed package: its package.json in the nearest node_modules above this file. */
export function packageVersion(name: string): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 10; i++) {
      const pj = join(dir, 'node_modules', name, 'package.json');
      if (existsSync(pj)) return (JSON.parse(readFileSync(pj, 'utf8')) as { version?: string }).version ?? '?';
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch {
    /* not installed */
  }
  return '?';
}

/** NHWC → NCHW (host). */
export function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  const hw = h * w;
  for (let b = 0; b < n; b++) for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[(b * c + ch) * hw + p] = x[(b * hw + p) * c + ch];
  return out;
}
