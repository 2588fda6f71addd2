// A named weight tensor. Names follow Keras (`<layer>/<weight>`, e.g. `block_1_expand_BN/gamma`) so
// checkpoints, summaries and "unfreeze from layer N" speak the same language as Keras.
import type { Tensor } from '../gpu/tensor.js';

export class Param {
  /** Gradient of the current step (allocated by backward inside the step's tidy scope). */
  grad: Tensor | null = null;
  constructor(
    readonly name: string,
    public value: Tensor,
    /** Updated by the optimizer. Non-trainable params (BN moving stats) are never trainable. */
    public trainable = true,
  ) {}

  get layer(): string {
    return this.name.slice(0, this.name.lastIndexOf('/'));
  }
}

/** Host-side seeded RNG (mulberry32) for weight initialisation. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Glorot-uniform values (Keras' default kernel initializer) for a kernel with the given fans. */
export function glorotUniform(n: number, fanIn: number, fanOut: number, rand: () => number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * limit;
  return a;
}
