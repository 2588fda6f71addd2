// Every kernel spec owns its dispatch: `dispatch(cfg, shapes)` gives the grid and the uniform values,
// so ops never compute them (issue 17). Walks everything @mnv2/kernels exports.
import { describe, it, expect } from 'vitest';
import * as kernels from '@mnv2/kernels';

/** The registry seen loosely: each kernel's config and shapes are its own types. */
interface AnyKernel {
  name: string;
  uniforms: object;
  dispatch?: (cfg: unknown, shapes: unknown) => { grid: number[]; uniforms: object };
}
const registry = Object.entries(kernels).filter(([, v]) => kernels.isKernel(v)) as unknown as [string, AnyKernel][];

describe('kernel registry', () => {
  it('exports the kernels (one per defineKernel)', () => {
    expect(registry.length).toBeGreaterThanOrEqual(40);
  });

  it('every kernel spec provides dispatch(cfg, shapes)', () => {
    const missing = registry.filter(([, k]) => typeof k.dispatch !== 'function').map(([n]) => n);
    expect(missing).toEqual([]);
  });

  it('dispatch gives a grid of three positive integers and a value for every uniform', () => {
    // A representative call per family: the grids and uniforms the ops would record.
    const conv = { N: 2, H: 9, W: 7, cin: 8, OH: 5, OW: 4, cout: 8, padTop: 0, padLeft: 1 };
    const tile = { k: 3, stride: 2, run: 2, vec4: true };
    const calls: [AnyKernel, unknown, unknown][] = ([
      [kernels.relu6, { vec4: true }, { size: 64 }],
      [kernels.elementwiseAdd, { vec4: false }, { size: 10 }],
      [kernels.dropout, { vec4: true }, { size: 16, seed: 3, rate: 0.5 }],
      [kernels.globalPool, { vec4: true, mode: 'avg' }, { batch: 2, hw: 49, channels: 8, parts: 1, rowsPerPart: 49, scale: 1 / 49 }],
      [kernels.batchnormStats, { vec4: true }, { rows: 100, channels: 16 }],
      [kernels.batchnormStatsFinalize, { vec4: true }, { channels: 16, parts: 4, count: 100, momentum: 0.99, epsilon: 1e-3 }],
      [kernels.conv2d, { ...tile, epilogue: { kind: 'none' } }, conv],
      [kernels.depthwiseConv2dBackwardFilter, tile, conv],
      [kernels.conv2dBackwardInput, tile, conv],
      [kernels.matmul, { bm: 4, bn: 8, map: 'n-fast', share: 'none' }, { M: 33, N: 17, K: 5 }],
      [kernels.matmulSplitK, { bm: 4, bn: 8, map: 'n-fast', share: 'none' }, { M: 8, N: 8, K: 1024, splitK: 4 }],
      [kernels.adamUpdate, { vec4: true }, { size: 32, init: 1, alpha: 0.01, oneMinusBeta1: 0.1, oneMinusBeta2: 0.001, epsilon: 1e-7, decay: 0 }],
      [kernels.softmaxCrossEntropyKernel, {}, { n: 5, k: 3 }],
      [kernels.resizeBilinear, { packed: false, channels: 3 }, { n: 12, inH: 4, inW: 4, cropTop: 0, cropLeft: 0, cropH: 4, cropW: 4, outH: 2, outW: 2, outBase: 0, srcImage: 0, scaleY: 2, scaleX: 2, div1: [1, 1, 1, 1], sub: [0, 0, 0, 0], div2: [1, 1, 1, 1] }],
    ] as unknown[][]).map(([k, cfg, s]) => [k as AnyKernel, cfg, s]);
    for (const [k, cfg, shapes] of calls) {
      const { grid, uniforms } = k.dispatch!(cfg, shapes);
      expect(grid.length, k.name).toBe(3);
      for (const g of grid) expect(Number.isInteger(g) && g >= 1, `${k.name} grid ${grid}`).toBe(true);
      expect(Object.keys(uniforms).sort(), k.name).toEqual(Object.keys(k.uniforms).sort());
      for (const [n, v] of Object.entries(uniforms as Record<string, unknown>)) expect(v === undefined || (typeof v === 'number' && Number.isNaN(v)), `${k.name}.${n}`).toBe(false);
    }
  });
});
