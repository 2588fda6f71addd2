// A whole MobileNetV2 training step with every activation larger than the (forced) binding limit:
// forward outputs, every gradient, BatchNorm batch statistics / moving averages and the weights
// after two optimizer steps equal the unsplit computation, in the three training modes of the
// tutorials: frozen base (head only), fine-tuning from a Keras layer (BN in inference mode, as
// Keras' base(x, training=False)), and the whole network (BN frozen, and BN in training mode).
//
// Training-mode BN over few rows (the 3x3 layers see 45 rows per channel here) with random weights
// is ill-conditioned: an unpaged run whose input differs by 1e-6 relative already moves some
// gradients by 1e-2 and the structurally ~0 ones (a BN beta feeding only a shift-invariant BN) by
// more than their size, and the loss after an SGD step by 2 %. Element-wise equality there holds for
// each op (tests/paging/ops.test.ts); the whole-network check in that mode requires the paged step
// to stay as close to the unsplit one as an unsplit step whose input differs by 1e-6 (x3).
import { describe, it, beforeAll, expect } from 'vitest';
import { type Engine, type Tensor, MobileNetV2Net, sgd, trainStep, lossAndGrad } from '@mnv2/core';
import { gpuEngine, gpuEngineWithBindingLimit, GPU } from '../helpers/gpu.js';
import { expectClose, maxAbs } from '../helpers/allclose.js';
import { randArray, f32 } from '../helpers/random.js';

// alpha 0.35 at 96x96 with the binding limit forced to 1 MiB (it must still hold the largest weight,
// Conv_1's 112x1280 = 560 KiB, as every real adapter's 128 MiB does): block_1_expand's 48x48x48 is
// 432 KiB per image, so a batch of 5 runs the early layers in pages of 2 and 1, the later ones whole.
const [N, S, K] = [5, 96, 3];
const LIMIT = 2 ** 20;

type Mode = 'frozen base' | 'fine-tune from layer 100' | 'whole network, BN frozen' | 'whole network, training-mode BN';

interface Result {
  logits: Float32Array;
  grads: Map<string, Float32Array>;
  params: Map<string, Float32Array>;
  loss: number[];
  dispatches: number;
  /** Which BatchNorms the first forward left to the depthwise kernels: the stem's, and blocks' expand units. */
  fused: { stem: boolean; blocks: number };
}

async function run(e: Engine, mode: Mode, eps = 0): Promise<Result> {
  const net = new MobileNetV2Net(e, { alpha: 0.35, inputSize: S, head: { classes: K, pooling: 'avg', dropout: 0.2 }, seed: 5 });
  const bnInference = mode !== 'whole network, training-mode BN';
  // (whole network: every weight trains)
  if (mode === 'frozen base') net.setBaseTrainable(false);
  if (mode === 'fine-tune from layer 100') net.setBaseTrainable(100);
  const x = e.upload(f32(randArray(N * S * S * 3, 21, -1, 1).map((v, i) => v * (1 + eps * Math.sin(i * 12.9898)))), [N, S, S, 3]);
  const y = e.upload(new Int32Array([0, 1, 2, 2, 1]), [N], 'i32');
  const ctx = { training: true, bnInference, seed: 9 };
  // One forward/backward whose gradients are read before any update.
  const d0 = e.dispatchCount;
  const kept: Tensor[] = [];
  const logitsT = e.tidy(() => {
    const logits = net.forward(e, x, ctx);
    const { dlogits } = lossAndGrad(e, 'sparse-categorical', logits, y);
    net.backward(e, dlogits);
    kept.push(...net.trainableParams().flatMap((p) => (p.grad ? [p.grad] : [])));
    return logits;
  }, kept);
  const dispatches = e.dispatchCount - d0;
  const fused = { stem: net.lastForwardFusedStemBn, blocks: net.blocks.filter((b) => b.lastForwardFusedBn).length };
  const grads = new Map<string, Float32Array>();
  for (const p of net.trainableParams()) {
    if (!p.grad) continue;
    grads.set(p.name, await p.grad.read());
    p.grad.dispose();
    p.grad = null;
  }
  const logits = await logitsT.read();
  logitsT.dispose();
  // Two optimizer steps (momentum: the second step depends on the first).
  const opt = sgd({ learningRate: 0.005, momentum: 0.9 });
  const loss: number[] = [];
  for (let s = 0; s < 2; s++) {
    const r = trainStep(e, net, opt, x, y, { loss: 'sparse-categorical', seed: 11 + s, bnInference });
    loss.push((await r.loss.read())[0]);
    r.loss.dispose();
    r.correct.dispose();
  }
  const params = new Map<string, Float32Array>();
  for (const p of net.params()) params.set(p.name, await p.value.read());
  for (const t of [x, y]) t.dispose();
  opt.dispose();
  net.dispose();
  return { logits, grads, params, loss, dispatches, fused };
}

/** Relative distance of two sets of named tensors: |b − a| / |a| over all of them. */
function relDistance(b: Map<string, Float32Array>, a: Map<string, Float32Array>): number {
  let d = 0;
  let n = 0;
  for (const [name, va] of a) {
    const vb = b.get(name)!;
    for (let i = 0; i < va.length; i++) {
      d += (vb[i] - va[i]) ** 2;
      n += va[i] ** 2;
    }
  }
  return Math.sqrt(d / n);
}

describe(`${GPU} a MobileNetV2 training step in pages equals the unsplit step`, () => {
  let whole: Engine;
  let paged: Engine;
  beforeAll(async () => {
    whole = await gpuEngine();
    paged = await gpuEngineWithBindingLimit(LIMIT);
  });

  for (const mode of ['frozen base', 'fine-tune from layer 100', 'whole network, BN frozen', 'whole network, training-mode BN'] as const) {
    it(mode, async () => {
      const a = await run(whole, mode);
      const before = { ...paged.paging };
      const b = await run(paged, mode);
      const pagedOps = paged.paging.pagedOps - before.pagedOps;
      const pages = paged.paging.pages - before.pages;
      console.log(`[paging] ${mode}: ${pagedOps} op calls ran in ${pages} pages; ${a.dispatches} → ${b.dispatches} dispatches per forward+backward`);
      expect(pagedOps, 'op calls that ran in pages').toBeGreaterThan(0);
      expect(pages).toBeGreaterThan(pagedOps);
      expectClose(b.logits, a.logits, { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(a.logits)), what: 'logits' });
      expect([...b.grads.keys()]).toEqual([...a.grads.keys()]);
      expect(a.grads.size).toBeGreaterThan(mode === 'frozen base' ? 1 : 20);
      // Where an expand unit (or the stem) and its depthwise unit both record for backward, the
      // expand's BN + ReLU6 is applied by the depthwise kernels, paged or not, with batch statistics
      // or frozen ones: the stem and 16 blocks for the whole network; from layer 100
      // (block_11_depthwise) blocks 12-16; none with the base frozen.
      const fused = {
        'frozen base': { stem: false, blocks: 0 },
        'fine-tune from layer 100': { stem: false, blocks: 5 },
        'whole network, BN frozen': { stem: true, blocks: 16 },
        'whole network, training-mode BN': { stem: true, blocks: 16 },
      }[mode];
      for (const r of [a, b]) expect(r.fused).toEqual(fused);
      if (mode === 'whole network, training-mode BN') {
        const noise = await run(whole, mode, 1e-6);
        const m = (r: Result) => ({ grads: relDistance(r.grads, a.grads), loss: Math.abs(r.loss[1] - a.loss[1]), weights: relDistance(r.params, a.params) });
        const [mp, mn] = [m(b), m(noise)];
        console.log(`[paging] ${mode}: paged vs unsplit ${JSON.stringify(mp)}; unsplit with input x(1±1e-6) vs unsplit ${JSON.stringify(mn)}`);
        expectClose(b.loss.slice(0, 1), a.loss.slice(0, 1), { rtol: 1e-4, atol: 1e-6, what: 'loss of the first step' });
        expect(mp.grads, 'gradients').toBeLessThanOrEqual(3 * mn.grads + 1e-5);
        expect(mp.loss, 'loss after one step').toBeLessThanOrEqual(3 * mn.loss + 1e-5);
        expect(mp.weights, 'weights and moving statistics after two steps').toBeLessThanOrEqual(3 * mn.weights + 1e-6);
        return;
      }
      for (const [name, ga] of a.grads) {
        expectClose(b.grads.get(name)!, ga, { rtol: 1e-3, atol: 1e-4 * Math.max(1e-3, maxAbs(ga)), what: `gradient ${name}` });
      }
      expectClose(b.loss, a.loss, { rtol: 1e-4, atol: 1e-6, what: 'losses of the two steps' });
      let moving = 0;
      for (const [name, pa] of a.params) {
        // weights and moving statistics after two steps
        expectClose(b.params.get(name)!, pa, { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(pa)), what: `weight ${name}` });
        if (name.includes('moving_')) moving++;
      }
      expect(moving).toBeGreaterThan(50);
    });
  }

  it('costs nothing when every tensor fits: same dispatches, no pages', async () => {
    const roomy = await gpuEngineWithBindingLimit(64 * 2 ** 20);
    const a = await run(whole, 'whole network, training-mode BN');
    const before = roomy.paging.pagedOps;
    const b = await run(roomy, 'whole network, training-mode BN');
    expect(roomy.paging.pagedOps).toBe(before);
    expect(b.dispatches).toBe(a.dispatches);
    expectClose(b.logits, a.logits, { rtol: 1e-6, atol: 1e-7, what: 'logits' });
  });
});
