// Number of correct predictions into a 1-element f32 tensor (no readback; read it when logging).
// logits [N, K ≥ 2] with i32 labels: argmax (first index on ties) == label; logits [N, 1] or [N]
// (binary, one logit): (logit > 0) == (label > 0.5), labels f32 or i32.
import { accuracyCount } from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import { run } from '../run.js';

export function accuracy(e: Engine, logits: Tensor, labels: Tensor): Tensor {
  const op = 'accuracy';
  const s = logits.shape;
  const ok = (s.length === 1 || s.length === 2) && s.every((d) => Number.isInteger(d) && d > 0);
  if (!ok) throw new ShapeError(op, 'logits must have shape [N, K] or [N]', { logits: s });
  const n = s[0];
  const k = s.length === 2 ? s[1] : 1;
  const binary = k === 1;
  if (labels.size !== n) throw new ShapeError(op, 'labels must hold one value per row of logits', { logits: s, labels: labels.shape });
  if (labels.dtype === 'u32') throw new ShapeError(op, 'labels must be i32 (classes) or f32 (binary), got u32');
  if (!binary && labels.dtype !== 'i32') throw new ShapeError(op, `multi-class labels must be i32 class indices, got ${labels.dtype}`);
  const count = e.alloc([1]);
  run(e, accuracyCount, { binary, labelType: labels.dtype as 'i32' | 'f32' }, { n, k }, { logits, labels, count });
  return count;
}
