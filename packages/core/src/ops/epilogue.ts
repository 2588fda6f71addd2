// Host side of the fused epilogue (see @mnv2/kernels epilogue.ts): which config and which buffers.
import type { EpilogueConfig } from '@mnv2/kernels';
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { ShapeError } from '../gpu/errors.js';

export interface Epilogue {
  /** Per-output-channel multiplier (folded BatchNorm scale). */
  scale?: Tensor;
  /** Per-output-channel addend (bias or folded BatchNorm shift). */
  shift?: Tensor;
  relu6?: boolean;
}

const dummies = new WeakMap<Engine, Tensor>();

/** A 16-byte buffer bound where an epilogue input is unused (WebGPU needs every binding bound). */
export function dummyTensor(e: Engine): Tensor {
  let t = dummies.get(e);
  if (!t) {
    t = e.upload(new Float32Array(4), [4]);
    dummies.set(e, t);
  }
  return t;
}

export function resolveEpilogue(e: Engine, op: string, ep: Epilogue | undefined, channels: number) {
  for (const [name, t] of [['scale', ep?.scale], ['shift', ep?.shift]] as const) {
    if (t && t.size !== channels) throw new ShapeError(op, `epilogue ${name} must have one value per output channel`, { [name]: t.shape, channels });
  }
  if (ep?.scale && !ep.shift) throw new ShapeError(op, 'epilogue scale needs a shift too');
  const cfg: EpilogueConfig = {
    affine: ep?.scale ? 'scale-shift' : ep?.shift ? 'shift' : 'none',
    relu6: !!ep?.relu6,
  };
  return { cfg, scale: ep?.scale ?? dummyTensor(e), shift: ep?.shift ?? dummyTensor(e) };
}
