// The inverted residual shortcut fused into the projection's matmul: y = epilogue(x·W) + r, checked
// against the f64 reference for every store path (vec4 and scalar columns, plain and subgroup-shared
// tiles, split-K's reduce pass, f16 storage, pages under a forced binding limit), and in the network:
// MobileNetV2's inference forward runs no add pass (one dispatch fewer per residual block) and gives
// the same logits as the unfused composition.
import { describe, it, beforeAll, expect } from 'vitest';
import type { MatmulTile } from '@mnv2/kernels';
import { type Engine, type Tensor, MobileNetV2Net, pointwiseConv2d, pointwiseConv2dBackwardInput, add, hasSubgroups8 } from '@mnv2/core';
import { gpuEngine, gpuEngineWithBindingLimit, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { pointwiseConv2dRef, pointwiseConv2dBackwardInputRef } from '../reference/matmul.js';
import { halfRef } from '../reference/half.js';

const TOL = { rtol: 1e-4, atol: 1e-5 };

function reference(x: ArrayLike<number>, w: ArrayLike<number>, r: ArrayLike<number>, P: number, cin: number, cout: number, scale: ArrayLike<number>, shift: ArrayLike<number>) {
  const y = pointwiseConv2dRef(x, w, P, cin, cout, { scale: Array.from(scale), shift: Array.from(shift) });
  return y.map((v, i) => v + r[i]);
}

describe(`${GPU} residual add fused into the pointwise convolution`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });
  const up = (v: ArrayLike<number>, shape: number[], dtype?: 'f16') => e.upload(f32(v), shape, dtype);

  const tiles: [string, Partial<MatmulTile> | undefined, number | undefined][] = [
    ['default', undefined, undefined],
    ['4x8 plain', { bm: 4, bn: 8, map: 'n-fast', share: 'none' }, 1],
    ['2x4 m-fast', { bm: 2, bn: 4, map: 'm-fast', share: 'none' }, 1],
    ['shared-b 8x16', { bm: 8, bn: 16, map: 'n-fast', share: 'b' }, 1],
    ['split-K reduce', { bm: 4, bn: 8, map: 'n-fast', share: 'none' }, 3],
  ];
  for (const [name, tile, splitK] of tiles)
    for (const [P, cin, cout] of [
      [37, 16, 24], // vec4 columns
      [29, 12, 10], // scalar columns (Cout % 4 != 0)
      [50, 96, 32],
    ]) {
      it(`${name}: P=${P} ${cin}->${cout}, y = BN(x·W) + r`, async () => {
        if (tile?.share === 'b' && !hasSubgroups8(e)) return expect(hasSubgroups8(e)).toBe(false); // refused elsewhere (tested in matmul.test.ts)
        const x = randArray(P * cin, 1);
        const w = randArray(cin * cout, 2);
        const r = randArray(P * cout, 3);
        const scale = randArray(cout, 4, 0.5, 2);
        const shift = randArray(cout, 5, -1, 1);
        const variant = tile ? { tile: tile as MatmulTile, splitK } : undefined;
        const y = pointwiseConv2d(e, up(x, [1, 1, P, cin]), up(w, [cin, cout]), { epilogue: { scale: up(scale, [cout]), shift: up(shift, [cout]) }, residual: up(r, [1, 1, P, cout]), variant });
        expectClose(await y.read(), reference(x, w, r, P, cin, cout, scale, shift), TOL);
      });
    }

  for (const [P, cin, cout] of [
    [37, 16, 24],
    [29, 10, 12], // Cin % 4 != 0: scalar stores of dx
  ]) {
    it(`backward input: dx = dY·Wᵀ + r (a shortcut's gradient joining) P=${P} ${cin}<-${cout}`, async () => {
      const dy = randArray(P * cout, 31);
      const w = randArray(cin * cout, 32);
      const r = randArray(P * cin, 33);
      const dx = pointwiseConv2dBackwardInput(e, up(dy, [1, 1, P, cout]), up(w, [cin, cout]), { residual: up(r, [1, 1, P, cin]) });
      const ref = pointwiseConv2dBackwardInputRef(dy, w, P, cin, cout).map((v, i) => v + r[i]);
      expectClose(await dx.read(), ref, TOL);
    });
  }

  it('f16 activations: x, r and y stored as f16, accumulated in f32 (refused, naming the feature, without shader-f16)', async () => {
    const [P, cin, cout] = [37, 16, 24];
    if (!e.hasF16) return expect(() => up([1, 2, 3, 4], [4], 'f16')).toThrow(/shader-f16/); // SwiftShader: tested there as refused
    const x = halfRef(randArray(P * cin, 11));
    const r = halfRef(randArray(P * cout, 12));
    const w = randArray(cin * cout, 13);
    const scale = randArray(cout, 14, 0.5, 2);
    const shift = randArray(cout, 15, -1, 1);
    const y = pointwiseConv2d(e, up(x, [1, 1, P, cin], 'f16'), up(w, [cin, cout]), { epilogue: { scale: up(scale, [cout]), shift: up(shift, [cout]) }, residual: up(r, [1, 1, P, cout], 'f16') });
    expect(y.dtype).toBe('f16');
    expectClose(await y.read(), reference(x, w, r, P, cin, cout, scale, shift), { rtol: 2e-3, atol: 2e-3 });
  });

  it('a residual of the wrong shape is refused, naming the op', () => {
    const x = up(randArray(8 * 4, 1), [1, 2, 4, 4]);
    expect(() => pointwiseConv2d(e, x, up(randArray(16, 2), [4, 4]), { residual: up(randArray(8 * 3, 3), [1, 2, 4, 3]) })).toThrow(/pointwiseConv2d.*residual/);
  });

  it('in pages (forced 64 KiB binding limit): the residual is paged with the input', async () => {
    const pe = await gpuEngineWithBindingLimit(64 * 1024);
    const [N, H, W, cin, cout] = [5, 16, 16, 16, 24]; // x 16 KiB, y 24 KiB per image: pages of 2
    const x = randArray(N * H * W * cin, 21);
    const w = randArray(cin * cout, 22);
    const r = randArray(N * H * W * cout, 23);
    const zeros = new Array(cout).fill(0);
    const ones = new Array(cout).fill(1);
    const pages0 = pe.paging.pages;
    const up2 = (v: ArrayLike<number>, shape: number[]) => pe.upload(f32(v), shape);
    const y = pointwiseConv2d(pe, up2(x, [N, H, W, cin]), up2(w, [cin, cout]), { residual: up2(r, [N, H, W, cout]) });
    expect(pe.paging.pages - pages0).toBeGreaterThan(1); // the paged path ran
    expectClose(await y.read(), reference(x, w, r, N * H * W, cin, cout, ones, zeros), TOL);
  });

  it('MobileNetV2 inference: one dispatch fewer per residual block, the logits of the unfused composition', async () => {
    const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: 32, head: { classes: 3, pooling: 'avg', dropout: 0 }, seed: 7 });
    const x = up(randArray(2 * 32 * 32 * 3, 8, -1, 1), [2, 32, 32, 3]);
    const ctx = { training: false };
    try {
      e.tidy(() => void net.forward(e, x, ctx)); // folds the BatchNorms once (cached after)
      const d0 = e.dispatchCount;
      const fused = e.tidy(() => net.forward(e, x, ctx));
      const dFused = e.dispatchCount - d0;
      // The same network unit by unit with separate adds (what the forward did before the fusion).
      const d1 = e.dispatchCount;
      const plain = e.tidy(() => {
        let h: Tensor = net.stem.forward(e, x, ctx);
        for (const b of net.blocks) {
          const input = h;
          for (const u of b.units) h = u.forward(e, h, ctx);
          if (b.residual) h = add(e, input, h);
        }
        h = net.last.forward(e, h, ctx);
        return net.forwardFrom(e, h, 'head', ctx);
      });
      const dPlain = e.dispatchCount - d1;
      const residualBlocks = net.blocks.filter((b) => b.residual).length;
      expect(residualBlocks).toBe(10);
      expect(dPlain - dFused).toBe(residualBlocks);
      expectClose(await fused.read(), await plain.read(), { rtol: 1e-5, atol: 1e-6 });
    } finally {
      x.dispose();
      net.dispose();
    }
  });
});
