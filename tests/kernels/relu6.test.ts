import { describe, it, beforeAll } from 'vitest';
import { relu6, relu6Backward, type Engine } from '@mnv2/core';
import { gpuEngine, GPU } from '../helpers/gpu.js';
import { randAwayFrom, f32 } from '../helpers/random.js';
import { expectClose } from '../helpers/allclose.js';
import { gradcheck, randomDy } from '../helpers/gradcheck.js';
import { relu6Ref, relu6BackwardRef } from '../reference/relu6.js';

describe('relu6 reference', () => {
  it('backward matches finite differences', () => {
    const x = randAwayFrom(37, 1, -2, 8, [0, 6], 0.01);
    const dy = randomDy(37);
    gradcheck((i) => relu6Ref(i.x), { x }, { x: relu6BackwardRef(relu6Ref(x), dy) }, dy);
  });
});

describe(`${GPU} relu6`, () => {
  let e: Engine;
  beforeAll(async () => {
    e = await gpuEngine();
  });
  for (const n of [1, 5, 64, 1001]) {
    it(`forward and backward, n=${n}`, async () => {
      const x = randAwayFrom(n, n, -3, 9, [0, 6], 1e-3);
      const dy = randomDy(n, n + 1);
      const xt = e.upload(f32(x), [n]);
      const y = relu6(e, xt);
      const dx = relu6Backward(e, y, e.upload(f32(dy), [n]));
      const yRef = relu6Ref(x);
      expectClose(await y.read(), yRef, { what: 'y' });
      expectClose(await dx.read(), relu6BackwardRef(yRef, dy), { what: 'dx' });
    });
  }
});
