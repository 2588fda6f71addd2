import { describe, it, beforeAll, expect } from 'vitest';
import { sgd, adam, rmsprop, type Optimizer, type Engine, type Tensor, ShapeError } from '@mnv2/core';
import { defineKernel, MAIN_1D, flatIndex, grid1d, ceilDiv, wgsl } from '@mnv2/kernels';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randArray, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { sgdStepRef, adamStepRef, rmspropStepRef } from '../reference/optim.js';

describe('optimizer references (Keras documented examples)', () => {
  it('RMSprop docstring: lr 0.1 on var²/2 from 10 → 9.683772', () => {
    const p = Float64Array.of(10);
    rmspropStepRef(p, Float64Array.of(10), new Float64Array(1), new Float64Array(1), { lr: 0.1, rho: 0.9, momentum: 0, epsilon: 1e-7 });
    expect(p[0]).toBeCloseTo(9.683772, 6);
  });
  it('SGD momentum 0.9, lr 0.1 on var²/2 from 1: steps of 0.1 then 0.18', () => {
    const p = Float64Array.of(1);
    const v = new Float64Array(1);
    const o = { lr: 0.1, momentum: 0.9, nesterov: false };
    sgdStepRef(p, Float64Array.of(p[0]), v, o);
    expect(1 - p[0]).toBeCloseTo(0.1, 12);
    const p1 = p[0];
    sgdStepRef(p, Float64Array.of(p[0]), v, o);
    expect(p1 - p[0]).toBeCloseTo(0.18, 12);
  });
});

/** One optimizer configuration with its f64 reference over the slots the optimizer names. */
interface Case {
  name: string;
  make: () => Optimizer;
  slots: string[];
  /** Reference step: updates p and the slot arrays (by slot name) in place. */
  ref: (p: Float64Array, g: Float64Array, s: Record<string, Float64Array>, t: number, lr: number) => void;
  lr: number;
}

const CASES: Case[] = [
  { name: 'sgd (defaults)', make: () => sgd(), slots: [], lr: 0.01, ref: (p, g, _s, _t, lr) => sgdStepRef(p, g, new Float64Array(p.length), { lr, momentum: 0, nesterov: false }) },
  {
    name: 'sgd momentum 0.9',
    make: () => sgd({ learningRate: 0.05, momentum: 0.9 }),
    slots: ['momentum'],
    lr: 0.05,
    ref: (p, g, s, _t, lr) => sgdStepRef(p, g, s.momentum, { lr, momentum: 0.9, nesterov: false }),
  },
  {
    name: 'sgd nesterov + weight decay',
    make: () => sgd({ learningRate: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.1 }),
    slots: ['momentum'],
    lr: 0.05,
    ref: (p, g, s, _t, lr) => sgdStepRef(p, g, s.momentum, { lr, momentum: 0.8, nesterov: true, weightDecay: 0.1 }),
  },
  {
    name: 'adam (defaults)',
    make: () => adam(),
    slots: ['momentum', 'velocity'],
    lr: 0.001,
    ref: (p, g, s, t, lr) => adamStepRef(p, g, s.momentum, s.velocity, t, { lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }),
  },
  {
    name: 'adam custom betas + weight decay',
    make: () => adam({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0.05 }),
    slots: ['momentum', 'velocity'],
    lr: 0.01,
    ref: (p, g, s, t, lr) => adamStepRef(p, g, s.momentum, s.velocity, t, { lr, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0.05 }),
  },
  {
    name: 'rmsprop (defaults)',
    make: () => rmsprop(),
    slots: ['velocity'],
    lr: 0.001,
    ref: (p, g, s, _t, lr) => rmspropStepRef(p, g, s.velocity, new Float64Array(p.length), { lr, rho: 0.9, momentum: 0, epsilon: 1e-7 }),
  },
  {
    name: 'rmsprop momentum + weight decay',
    make: () => rmsprop({ learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-2, weightDecay: 0.02 }),
    slots: ['velocity', 'momentum'],
    lr: 0.01,
    ref: (p, g, s, _t, lr) => rmspropStepRef(p, g, s.velocity, s.momentum, { lr, rho: 0.8, momentum: 0.5, epsilon: 1e-2, weightDecay: 0.02 }),
  },
];

const STEPS = 4;
const TOL = { rtol: 1e-5, atol: 1e-6 };

describe(`${GPU} optimizers`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });

  for (const c of CASES) {
    // 70001 (scalar) and 70000 (vec4) elements: several rows per flat-loop part, a ragged last part;
    // the small ones make Adam's multi-tensor groups of 4, 3 and 2 (vec4 and scalar)
    it(`${c.name}: ${STEPS} steps, 15 sizes from 1 to 70001, vs f64 reference`, async () => {
      const sizes = [1, 5, 8, 1001, 70001, 70000, 3, 4, 7, 12, 16, 20, 33, 64, 100];
      const opt = c.make();
      const p64 = sizes.map((n, k) => randArray(n, 10 + k));
      const slots64 = sizes.map((n) => Object.fromEntries(c.slots.map((s) => [s, new Float64Array(n)])));
      const params = sizes.map((n, k) => e.upload(f32(p64[k]), [n]));
      const grads: Tensor[] = [];
      for (let t = 1; t <= STEPS; t++) {
        const g64 = sizes.map((n, k) => randArray(n, 100 * t + k, -2, 2));
        const g = sizes.map((n, k) => e.upload(f32(g64[k]), [n]));
        grads.push(...g);
        opt.step(e, sizes.map((_, k) => ({ param: params[k], grad: g[k], key: `w${k}` })));
        sizes.forEach((_, k) => c.ref(p64[k], g64[k], slots64[k], t, c.lr));
      }
      expect(opt.iterations).toBe(STEPS);
      const state = opt.state();
      expect(Object.keys(state).sort()).toEqual(sizes.flatMap((_, k) => c.slots.map((s) => `w${k}/${s}`)).sort());
      for (let k = 0; k < sizes.length; k++) {
        expectClose(await params[k].read(), p64[k], { ...TOL, what: `${c.name} param n=${sizes[k]}` });
        for (const s of c.slots) expectClose(await state[`w${k}/${s}`].read(), slots64[k][s], { ...TOL, what: `${c.name} slot ${s} n=${sizes[k]}` });
      }
      opt.dispose();
      [...params, ...grads].forEach((t) => t.dispose());
    });
  }

  it('adam: bias correction follows t over 6 steps, with a learning-rate change and a late parameter', async () => {
    const opt = adam({ learningRate: 0.02 });
    const n = 12;
    const p64 = randArray(n, 7);
    const q64 = randArray(n, 8);
    const m = new Float64Array(n), v = new Float64Array(n), mq = new Float64Array(n), vq = new Float64Array(n);
    const p = e.upload(f32(p64), [n]);
    const q = e.upload(f32(q64), [n]);
    const keep: Tensor[] = [];
    for (let t = 1; t <= 6; t++) {
      if (t === 4) opt.learningRate = 0.005;
      const lr = opt.learningRate;
      const g64 = randArray(n, 50 + t, -1, 1);
      const h64 = randArray(n, 90 + t, -1, 1);
      const g = e.upload(f32(g64), [n]);
      const h = e.upload(f32(h64), [n]);
      keep.push(g, h);
      // 'q' joins at step 3: its slots start at zero but the bias correction uses the global t (Keras).
      opt.step(e, t >= 3 ? [{ param: p, grad: g, key: 'p' }, { param: q, grad: h, key: 'q' }] : [{ param: p, grad: g, key: 'p' }]);
      adamStepRef(p64, g64, m, v, t, { lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
      if (t >= 3) adamStepRef(q64, h64, mq, vq, t, { lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    }
    expectClose(await p.read(), p64, { ...TOL, what: 'p' });
    expectClose(await q.read(), q64, { ...TOL, what: 'q' });
    expect(opt.config).toMatchObject({ name: 'adam', learning_rate: 0.005, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 });
    opt.dispose();
    [p, q, ...keep].forEach((t) => t.dispose());
  });

  it('loadState + iterations resume exactly where a continuous run is', async () => {
    const n = 9;
    const p0 = randArray(n, 3);
    const gs = [1, 2, 3, 4].map((t) => randArray(n, 300 + t));
    const gt = gs.map((g) => e.upload(f32(g), [n]));
    // Continuous run.
    const a = adam({ learningRate: 0.01 });
    const pa = e.upload(f32(p0), [n]);
    for (const g of gt) a.step(e, [{ param: pa, grad: g, key: 'layer/kernel' }]);
    // Two steps, checkpoint (host copies), fresh optimizer, restore, two more steps.
    const b = adam({ learningRate: 0.01 });
    const pb = e.upload(f32(p0), [n]);
    for (const g of gt.slice(0, 2)) b.step(e, [{ param: pb, grad: g, key: 'layer/kernel' }]);
    const saved: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(b.state())) saved[k] = await t.read();
    expect(Object.keys(saved).sort()).toEqual(['layer/kernel/momentum', 'layer/kernel/velocity']);
    const c = adam({ learningRate: 0.01 });
    c.loadState(e, saved, b.iterations);
    for (const g of gt.slice(2)) c.step(e, [{ param: pb, grad: g, key: 'layer/kernel' }]);
    expectClose(await pb.read(), await pa.read(), { rtol: 0, atol: 0, what: 'resumed param' });
    expect(() => c.loadState(e, { 'layer/kernel/bogus': new Float32Array(n) })).toThrow(/slot/);
    [a, b, c].forEach((o) => o.dispose());
    [pa, pb, ...gt].forEach((t) => t.dispose());
  });

  // (adam: p and q share one multi-tensor dispatch, each with its own decay)
  for (const make of [() => sgd({ learningRate: 0.1, weightDecay: 0.5 }), () => adam({ learningRate: 0.1, weightDecay: 0.5 })])
  it(`weightDecay: false on a parameter excludes it from decay (${make().name})`, async () => {
    const opt = make();
    const p = e.upload(f32([1, 2, 3, 4]), [4]);
    const q = e.upload(f32([1, 2, 3, 4]), [4]);
    const g = e.upload(new Float32Array(4), [4]);
    opt.step(e, [{ param: p, grad: g, key: 'p' }, { param: q, grad: g, key: 'q', weightDecay: false }]);
    expectClose(await p.read(), [0.95, 1.9, 2.85, 3.8], { what: 'decayed' });
    expectClose(await q.read(), [1, 2, 3, 4], { rtol: 0, atol: 0, what: 'excluded' });
    [p, q, g].forEach((t) => t.dispose());
  });

  it('rejects a gradient whose size differs from its parameter', () => {
    const opt = adam();
    const p = e.upload(new Float32Array(4), [4]);
    const g = e.upload(new Float32Array(5), [5]);
    expect(() => opt.step(e, [{ param: p, grad: g, key: 'p' }])).toThrow(ShapeError);
    [p, g].forEach((t) => t.dispose());
  });

  it('adam minimizes a quadratic entirely on the GPU', async () => {
    // L = sum a_i (p_i - c_i)^2, gradient 2 a (p - c) computed by a test-only kernel each step.
    const gradKernel = defineKernel({
      name: 'test.quadratic-grad',
      uniforms: { n: 'u32' },
      bindings: { p: 'read', a: 'read', c: 'read', g: 'read_write' },
      workgroupSize: () => [64, 1, 1],
      dispatch: (_cfg: Record<string, never>, s: { n: number }) => ({ grid: [Math.ceil(s.n / 64), 1, 1], uniforms: { n: s.n } }),
      body: () => wgsl`
@compute @workgroup_size(WG_X)
fn main(${MAIN_1D}) {
  let i = ${flatIndex(64)};
  if (i >= u.n) { return; }
  g[i] = 2.0 * a[i] * (p[i] - c[i]);
}`,
    });
    const n = 37;
    const a64 = randArray(n, 1, 0.5, 4);
    const c64 = randArray(n, 2, -3, 3);
    const p = e.upload(new Float32Array(n), [n]);
    const a = e.upload(f32(a64), [n]);
    const c = e.upload(f32(c64), [n]);
    const g = e.upload(new Float32Array(n), [n]);
    const loss = (x: ArrayLike<number>) => Array.from(x).reduce((s, xi, i) => s + a64[i] * (xi - c64[i]) ** 2, 0);
    const opt = adam({ learningRate: 0.1 });
    const l0 = loss(await p.read());
    for (let s = 0; s < 300; s++) {
      e.dispatch(gradKernel, {}, { p, a, c, g }, { n }, grid1d(ceilDiv(n, 64)));
      opt.step(e, [{ param: p, grad: g, key: 'p' }]);
    }
    const final = await p.read();
    expect(loss(final)).toBeLessThan(1e-3 * l0);
    expectClose(final, c64, { rtol: 0, atol: 0.02, what: 'minimizer' });
    opt.dispose();
    [p, a, c, g].forEach((t) => t.dispose());
  });
});
