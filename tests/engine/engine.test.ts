// Engine behaviour: errors surface (not hang) on a lost device and on invalid WebGPU use; tidy
// releases what it should; uploads are ordered after recorded work; uniforms pack by WGSL layout.
import { describe, it, expect } from 'vitest';
import { relu6, add, DeviceLostError, type Engine } from '@mnv2/core';
import { uniformLayout, packUniforms } from '@mnv2/kernels';
import { createNodeEngine } from '../../packages/cli/src/node-gpu.js';
import { gpuEngine, GPU } from '../helpers/gpu.js';

describe('uniform layout', () => {
  it('follows WGSL alignment (vec2 8, vec4 16, struct size multiple of 16)', () => {
    const l = uniformLayout({ a: 'u32', b: 'vec2u', c: 'f32', d: 'vec4i' });
    expect(l.fields.map((f) => f.offset)).toEqual([0, 8, 16, 32]);
    expect(l.size).toBe(48);
  });
  it('names the kernel and field on a bad value', () => {
    const l = uniformLayout({ n: 'u32' });
    expect(() => packUniforms('k', l, {})).toThrow(/k: uniform 'n'/);
    expect(() => packUniforms('k', l, { n: -1 })).toThrow(/unsigned/);
    expect(() => packUniforms('k', l, { n: NaN })).toThrow(/non-finite/);
  });
});

describe(`${GPU} engine`, () => {
  it('a lost device is reported as DeviceLostError, not hung on', async () => {
    const { engine } = await createNodeEngine();
    const x = engine.upload(new Float32Array([1, 2, 3, 4]), [4]);
    engine.device.destroy();
    const t0 = performance.now();
    await expect((async () => (await relu6(engine, x).read()))()).rejects.toThrow(DeviceLostError);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('tidy releases intermediates but keeps returned tensors', async () => {
    const e: Engine = await gpuEngine();
    const x = e.upload(new Float32Array([-1, 3, 7, 2]), [4]);
    const live0 = e.pool.liveCount;
    const y = e.tidy(() => relu6(e, relu6(e, relu6(e, x))));
    expect(e.pool.liveCount).toBe(live0 + 1);
    expect(Array.from(await y.read())).toEqual([0, 3, 6, 2]);
    y.dispose();
    expect(e.pool.liveCount).toBe(live0);
  });

  it('an upload into a just-released pooled buffer is not overwritten by recorded work', async () => {
    const e: Engine = await gpuEngine();
    const x = e.upload(new Float32Array(64).fill(3), [64]);
    const y = relu6(e, x); // recorded, not submitted
    y.dispose(); // its buffer returns to the pool while the dispatch is still pending
    const z = e.upload(new Float32Array(64).fill(-7), [64]); // likely reuses that buffer
    expect(Array.from(await z.read()).every((v) => v === -7)).toBe(true);
  });

  it('reading a disposed tensor in a dispatch names the kernel', async () => {
    const e: Engine = await gpuEngine();
    const x = e.upload(new Float32Array(4), [4]);
    x.dispose();
    expect(() => relu6(e, x)).toThrow(/relu6: binding 'x' uses a disposed tensor/);
  });

  it('reuses a bind group when a dispatch binds the same buffers again, and never a stale one', async () => {
    const e: Engine = await gpuEngine();
    const a = e.upload(new Float32Array([1, 2, 3, 4]), [4]);
    const b = e.upload(new Float32Array([10, 20, 30, 40]), [4]);
    const step = () => e.tidy(() => add(e, a, b));
    const y1 = step();
    expect(Array.from(await y1.read())).toEqual([11, 22, 33, 44]);
    const buf1 = y1.buffer;
    y1.dispose(); // the pool hands the released output buffer back: the same bindings next time
    const before = { ...e.bindGroupStats };
    const y2 = step();
    expect(y2.buffer).toBe(buf1);
    expect(e.bindGroupStats.created - before.created).toBe(0);
    expect(e.bindGroupStats.reused - before.reused).toBe(1);
    expect(Array.from(await y2.read())).toEqual([11, 22, 33, 44]);
    // Other inputs: a new bind group, the right result.
    const c = e.upload(new Float32Array([100, 200, 300, 400]), [4]);
    const created = e.bindGroupStats.created;
    const y3 = e.tidy(() => add(e, a, c));
    expect(e.bindGroupStats.created).toBe(created + 1);
    expect(Array.from(await y3.read())).toEqual([101, 202, 303, 404]);
    // Trimming the pool destroys idle buffers and forgets the bind groups naming them.
    for (const t of [y2, y3]) t.dispose();
    e.trimPool();
    const y4 = e.tidy(() => add(e, a, b));
    expect(Array.from(await y4.read())).toEqual([11, 22, 33, 44]);
    for (const t of [a, b, c, y4]) t.dispose();
  });
});
