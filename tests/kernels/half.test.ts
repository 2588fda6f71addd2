// The f16 storage rewrite (kernels/src/half.ts): which accesses become conversions, and that a
// kernel's f32 source is untouched when no binding is f16 (no device needed).
import { describe, it, expect } from 'vitest';
import { rewriteHalfAccess, halfType, relu6, matmul, elementwiseAddInPlace, halfKey } from '@mnv2/kernels';

describe('f16 storage rewrite', () => {
  it('loads widen to f32, stores narrow to f16, compound stores read-modify-write in f32', () => {
    const src = [
      'let a = x[i];',
      'y[i * 2u + k] = relu6v(x[idx[j]] + v);',
      'acc[i] += 2.0 * x[i].y;',
      'let q = xx[i] + ax[i] + t.x[i];', // other identifiers ending or starting like the binding
      'if (y[i] == 0.0) { y[i] -= 1.0; }',
    ].join('\n');
    const x = rewriteHalfAccess(src, 'x', 'vec4<f32>', 'vec4<f16>');
    expect(x).toContain('let a = vec4<f32>(x[i]);');
    expect(x).toContain('relu6v(vec4<f32>(x[idx[j]]) + v)');
    expect(x).toContain('2.0 * vec4<f32>(x[i]).y');
    expect(x).toContain('let q = xx[i] + ax[i] + t.x[i];');
    const y = rewriteHalfAccess(src, 'y', 'f32', 'f16');
    expect(y).toContain('y[i * 2u + k] = f16(relu6v(x[idx[j]] + v));');
    expect(y).toContain('if (f32(y[i]) == 0.0) { y[i] = f16(f32(y[i]) - (1.0)); }');
    const acc = rewriteHalfAccess(src, 'acc', 'f32', 'f16');
    expect(acc).toContain('acc[i] = f16(f32(acc[i]) + (2.0 * x[i].y));');
  });

  it('only f32 arrays can be f16', () => {
    expect(halfType('k', 'x', 'f32')).toBe('f16');
    expect(halfType('k', 'x', 'vec4<f32>')).toBe('vec4<f16>');
    expect(() => halfType('k', 'labels', 'i32')).toThrow(/k: binding 'labels' is an array of i32/);
  });

  it('kernel sources: f32 untouched, f16 bindings declared f16 with `enable f16;`, cache keys apart', () => {
    const cfg = { vec4: true };
    const f32 = relu6.source(cfg);
    expect(f32).toBe(relu6.source(cfg, []));
    expect(f32).not.toMatch(/f16/);
    const h = relu6.source(cfg, ['x']);
    expect(h.startsWith('enable f16;')).toBe(true);
    expect(h).toContain('var<storage, read> x: array<vec4<f16>>;');
    expect(h).toContain('var<storage, read_write> y: array<vec4<f32>>;');
    expect(h).toContain('relu6v(vec4<f32>(x[i]))');
    expect(relu6.cacheKey(cfg)).toBe(relu6.cacheKey(cfg, []));
    expect(relu6.cacheKey(cfg, ['x'])).not.toBe(relu6.cacheKey(cfg));
    expect(halfKey(['y', 'x'])).toBe(halfKey(['x', 'y']));
    expect(() => relu6.source(cfg, ['nope'])).toThrow(/relu6: no binding 'nope'/);
    const acc = elementwiseAddInPlace.source({ vec4: false }, ['acc']);
    expect(acc).toContain('acc[i] = f16(f32(acc[i]) + u.alpha * b[i]);');
    // the subgroup matmul keeps its own directives after `enable f16;`
    const mm = matmul.source({ bm: 4, bn: 8, map: 'n-fast', share: 'b', transA: false, transB: false, kVec: true, mVec: false, nVec: true, splitK: false, epilogue: { affine: 'none', relu6: false }, relu: false }, ['a', 'c']);
    expect(mm.indexOf('enable f16;')).toBeLessThan(mm.indexOf('enable subgroups;'));
    expect(mm).toContain('a: array<vec4<f16>>');
  });
});
