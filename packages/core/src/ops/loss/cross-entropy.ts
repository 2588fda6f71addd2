// Classification losses from logits, each fused with its gradient (one kernel writes the per-example
// loss and dlogits, a second reduces the mean into a 1-element tensor on the GPU; nothing is read
// back), and softmax for predictions.
//
// Labels live on the GPU, so ops cannot check them without a readback. Out-of-range class labels give
// a NaN loss and NaN gradients for that example (never an out-of-bounds read); check labels on the
// host where they are made with `checkClassLabels` / `checkBinaryLabels`, which throw a clear error.
import {
  softmaxCrossEntropyKernel,
  sigmoidBinaryCrossEntropyKernel,
  lossMean,
  softmaxRows,
} from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';
import { run } from '../run.js';

function rowsCols(op: string, logits: Tensor): [number, number] {
  const s = logits.shape;
  if (s.length !== 2 || s.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(op, 'logits must have shape [N, K] with positive dims', { logits: s });
  }
  return [s[0], s[1]];
}

function meanOf(e: Engine, perExample: Tensor, n: number): Tensor {
  const loss = e.alloc([1]);
  run(e, lossMean, {}, { n }, { x: perExample, y: loss });
  return loss;
}

/**
 * Sparse softmax cross-entropy (Keras SparseCategoricalCrossentropy(from_logits=True), mean over the
 * batch): loss [1] = mean_n(logsumexp(z_n) − z_n[label_n]); dlogits = (softmax(z) − onehot)/N.
 * labels: i32 [N] class indices in [0, K).
 */
export function softmaxCrossEntropy(e: Engine, logits: Tensor, labels: Tensor): { loss: Tensor; dlogits: Tensor } {
  const op = 'softmaxCrossEntropy';
  const [n, k] = rowsCols(op, logits);
  if (labels.dtype !== 'i32') throw new ShapeError(op, `labels must be i32 class indices, got ${labels.dtype}`);
  if (labels.size !== n) throw new ShapeError(op, 'labels must hold one class index per row of logits', { logits: logits.shape, labels: labels.shape });
  const perExample = e.alloc([n]);
  const dlogits = e.alloc([n, k]);
  run(e, softmaxCrossEntropyKernel, {}, { n, k }, { logits, labels, loss: perExample, dlogits });
  const loss = meanOf(e, perExample, n);
  perExample.dispose();
  return { loss, dlogits };
}

/**
 * Sigmoid binary cross-entropy from logits (Keras BinaryCrossentropy(from_logits=True), mean):
 * loss [1] = mean(max(z,0) − z·y + log(1 + exp(−|z|))); dlogits = (sigmoid(z) − y)/N, shaped like logits.
 * logits [N, 1] or [N]; labels f32 [N] in [0, 1].
 */
export function sigmoidBinaryCrossEntropy(e: Engine, logits: Tensor, labels: Tensor): { loss: Tensor; dlogits: Tensor } {
  const op = 'sigmoidBinaryCrossEntropy';
  const s = logits.shape;
  if (!((s.length === 1 && s[0] > 0) || (s.length === 2 && s[0] > 0 && s[1] === 1))) {
    throw new ShapeError(op, 'logits must have shape [N, 1] or [N]', { logits: s });
  }
  if (labels.dtype !== 'f32') throw new ShapeError(op, `labels must be f32 0/1 values, got ${labels.dtype}`);
  const n = s[0];
  if (labels.size !== n) throw new ShapeError(op, 'labels must hold one value per example', { logits: s, labels: labels.shape });
  const perExample = e.alloc([n]);
  const dlogits = e.alloc(s);
  run(e, sigmoidBinaryCrossEntropyKernel, {}, { n }, { logits, labels, loss: perExample, dlogits });
  const loss = meanOf(e, perExample, n);
  perExample.dispose();
  return { loss, dlogits };
}

/** Row softmax of logits [N, K] (class probabilities for prediction). */
export function softmax(e: Engine, logits: Tensor): Tensor {
  const [n, k] = rowsCols('softmax', logits);
  const probs = e.alloc([n, k]);
  run(e, softmaxRows, {}, { n, k }, { logits, probs });
  return probs;
}

/** Host check of class labels before upload: integers in [0, numClasses). Throws naming the first bad one. */
export function checkClassLabels(labels: ArrayLike<number>, numClasses: number, op = 'softmaxCrossEntropy'): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new RangeError(`${op}: label ${i} is ${v}, but labels must be integers in [0, ${numClasses}) for ${numClasses} classes`);
    }
  }
}

/** Host check of binary labels before upload: values in [0, 1]. */
export function checkBinaryLabels(labels: ArrayLike<number>, op = 'sigmoidBinaryCrossEntropy'): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${op}: label ${i} is ${v}, but binary labels must be in [0, 1]`);
  }
}
