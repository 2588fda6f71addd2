// Central finite differences on f64 reference functions: checks a reference backward against the
// numerical derivative of its forward, for a scalar loss L = sum(forward(x) * w) with random w.
import { expectClose } from './allclose.js';
import { randArray } from './random.js';

/**
 * @param f       forward: inputs → output (f64)
 * @param inputs  named f64 inputs
 * @param grads   the analytic gradients for the same upstream dy, per input name
 * @param dy      upstream gradient used to produce `grads`
 */
export function gradcheck(
  f: (inputs: Record<string, Float64Array>) => Float64Array,
  inputs: Record<string, Float64Array>,
  grads: Record<string, ArrayLike<number>>,
  dy: Float64Array,
  opts: { eps?: number; rtol?: number; atol?: number; maxChecks?: number } = {},
): void {
  const { eps = 1e-6, rtol = 1e-5, atol = 1e-7, maxChecks = 64 } = opts;
  const loss = (ins: Record<string, Float64Array>) => {
    const y = f(ins);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dy[i];
    return s;
  };
  for (const [name, x] of Object.entries(inputs)) {
    if (!(name in grads)) continue;
    const g = grads[name];
    // Check every element of small inputs, an evenly spread sample of large ones.
    const step = Math.max(1, Math.floor(x.length / maxChecks));
    const num: number[] = [];
    const ana: number[] = [];
    for (let i = 0; i < x.length; i += step) {
      const plus = { ...inputs, [name]: Float64Array.from(x) };
      const minus = { ...inputs, [name]: Float64Array.from(x) };
      plus[name][i] += eps;
      minus[name][i] -= eps;
      num.push((loss(plus) - loss(minus)) / (2 * eps));
      ana.push(g[i]);
    }
    expectClose(ana, num, { rtol, atol, what: `gradient of '${name}'` });
  }
}

export const randomDy = (n: number, seed = 999) => randArray(n, seed);
