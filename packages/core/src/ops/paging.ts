// Tensors larger than one storage-buffer binding (maxStorageBufferBindingSize: 128 MiB on lavapipe,
// SwiftShader, many browsers and phones) are still ONE buffer (up to maxBufferSize), but no kernel
// binds them whole: an op that meets one runs in pages of whole samples (the leading axis).
//   - per-sample results (conv, BN apply, pooling, resize, …) are computed page by page into the
//     full output;
//   - reductions over the batch (weight gradients, dγ, dβ) are summed over the pages;
//   - BatchNorm's batch statistics combine the pages' partial sums before normalizing (see
//     ops/norm/batchnorm.ts), so training-mode BN stays exact (not ghost-batch).
// A page is bound in place (offset binding) when its start meets the device's offset alignment, else
// copied into a temporary (copies have no binding limit). When every tensor fits, the op runs
// exactly as before: same kernels, same dispatch count.
import type { Engine } from '../gpu/engine.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import { elementwiseAddInPlace, vecConfig } from '@mnv2/kernels';
import { run } from './run.js';

/** Samples [start, start + count) of the leading axis. */
export interface Page {
  start: number;
  count: number;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0)} MiB`;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Splits `batch` samples into pages such that every tensor with these per-sample byte sizes fits
 * one binding. Page sizes are rounded to a multiple that keeps page starts aligned (bound in place)
 * when that costs at most half a page.
 */
export function planPages(e: Engine, op: string, batch: number, sampleBytes: readonly number[]): Page[] {
  const maxSample = Math.max(...sampleBytes);
  const limit = e.bindingLimit;
  if (!(batch * maxSample > limit)) return [{ start: 0, count: batch }]; // (invalid shapes: the op names the error)
  if (maxSample > limit) {
    throw new Error(
      `${op}: one sample needs ${mib(maxSample)} but this adapter binds at most ${mib(limit)} per buffer ` +
        '(tensors are split along the batch, not within a sample): use a smaller image size',
    );
  }
  let per = Math.floor(limit / maxSample);
  const align = e.offsetAlignment;
  const period = sampleBytes.reduce((p, sb) => {
    const q = align / gcd(sb, align);
    return (p * q) / gcd(p, q);
  }, 1);
  if (per >= 2 * period) per -= per % period;
  const pages: Page[] = [];
  for (let start = 0; start < batch; start += per) pages.push({ start, count: Math.min(per, batch - start) });
  e.paging.pagedOps++;
  e.paging.pages += pages.length;
  return pages;
}

/** Samples of `t` in `page`: a view when aligned, else a copy (in the current tidy scope). */
export function pageOf(e: Engine, t: Tensor, page: Page): Tensor {
  if (page.start === 0 && page.count === t.shape[0]) return t;
  if (e.canSlice(t, page.start)) return e.slice(t, page.start, page.count);
  const sb = e.sampleBytes(t);
  const tmp = e.alloc([page.count, ...t.shape.slice(1)], t.dtype, 'page');
  e.copy(t, tmp, page.count * sb, page.start * sb, 0);
  return tmp;
}

/**
 * How an output of a paged op is assembled: per-sample pages of a full tensor (stored as `dtype`,
 * default f32; f16 activations take half the bytes, so twice the samples fit a page), or a sum over pages.
 */
export type PagedOut = { batch: readonly number[]; dtype?: DType } | 'sum';

/**
 * Runs `fn` (an op on tensors that fit one binding) over the batch: `inputs` all have the batch as
 * their leading axis (per-channel parameters stay in fn's closure). Returns `outs.length` tensors:
 * full per-sample outputs ({batch: shape}) or sums over the pages ('sum': weight gradients).
 * With a single page this is just `fn(inputs, {start: 0, count: N})`.
 */
export function paged(e: Engine, op: string, inputs: readonly Tensor[], outs: readonly PagedOut[], fn: (ins: Tensor[], page: Page) => Tensor[]): Tensor[] {
  const batch = inputs[0].shape[0];
  for (const t of inputs) {
    if (t.shape[0] !== batch) throw new Error(`${op}: paged inputs must share the batch axis ([${inputs.map((i) => `[${i.shape}]`).join(', ')}])`);
  }
  const outShapes = outs.map((o) => (o === 'sum' ? null : o));
  const sizes = [...inputs.map((t) => e.sampleBytes(t)), ...outShapes.filter((s) => s !== null).map((s) => e.sampleBytes(s.batch, s.dtype))];
  const pages = planPages(e, op, batch, sizes);
  if (pages.length === 1) return fn([...inputs], pages[0]);
  const full = outShapes.map((s) => (s ? e.alloc(s.batch, s.dtype ?? 'f32') : null));
  let sums: (Tensor | null)[] = outs.map(() => null);
  for (const page of pages) {
    sums = e.tidy(() => {
      const r = fn(
        inputs.map((t) => pageOf(e, t, page)),
        page,
      );
      return r.map((t, i) => {
        const out = full[i];
        if (out) {
          e.copy(t, out, t.bytes, 0, page.start * e.sampleBytes(out));
          return null;
        }
        const acc = sums[i];
        if (!acc) return t; // the first page's sum is the accumulator (kept by returning it)
        // acc += t (weight-sized: never paged itself; a direct dispatch keeps ops/elementwise out of this module)
        run(e, elementwiseAddInPlace, vecConfig(acc.size), { size: acc.size, alpha: 1 }, { acc, b: t });
        return acc;
      });
    });
  }
  return full.map((t, i) => t ?? sums[i]!);
}

/**
 * Runs an in-place op `fn(target, ...others)` over the batch in pages: pages of `target` that cannot
 * be bound in place are copied out, updated, and copied back.
 */
export function pagedInPlace(e: Engine, op: string, target: Tensor, others: readonly Tensor[], fn: (target: Tensor, others: Tensor[]) => void): void {
  const all = [target, ...others];
  const pages = planPages(e, op, target.shape[0], all.map((t) => e.sampleBytes(t)));
  if (pages.length === 1) return fn(target, [...others]);
  for (const page of pages) {
    e.tidy(() => {
      const tp = pageOf(e, target, page);
      fn(
        tp,
        others.map((t) => pageOf(e, t, page)),
      );
      if (tp.buffer !== target.buffer) e.copy(tp, target, tp.bytes, 0, page.start * e.sampleBytes(target));
    });
  }
}

/** One line for run logs when something ran in pages (null when nothing had to). */
export function pagingSummary(e: Engine): string | null {
  const { pagedOps, pages } = e.paging;
  if (pagedOps === 0) return null;
  return `tensors above the adapter's ${mib(e.bindingLimit)} binding limit ran in pages: ${pagedOps} op calls in ${pages} pages`;
}
