// One training step, recorded into a single submit: forward → fused loss+gradient → backward →
// optimizer update. Activations and gradients live in a tidy scope released at the end; only the
// loss (and correct count) survive, to be read back when the caller wants (reading forces a sync).
import type { Engine } from '../gpu/engine.js';
import type { Tensor } from '../gpu/tensor.js';
import { accuracy, sigmoidBinaryCrossEntropy, softmaxCrossEntropy } from '../ops/loss/index.js';
import type { Optimizer } from '../ops/optim/index.js';
import type { MobileNetV2Net } from '../nn/mobilenet-v2.js';

export type LossKind = 'sparse-categorical' | 'binary';

export interface StepResult {
  loss: Tensor; // [1] mean loss of the batch
  correct: Tensor; // [1] number of correct predictions
}

export function lossAndGrad(e: Engine, kind: LossKind, logits: Tensor, labels: Tensor) {
  return kind === 'binary' ? sigmoidBinaryCrossEntropy(e, logits, labels) : softmaxCrossEntropy(e, logits, labels);
}

export function trainStep(
  e: Engine,
  net: MobileNetV2Net,
  optimizer: Optimizer,
  x: Tensor,
  labels: Tensor,
  /**
   * `fromBlock`: `x` is the activation entering that block (a cached frozen prefix, see
   * `MobileNetV2Net.prefixForward`), or with 'head' the pooled base features [N, 1, 1, C] (base frozen).
   */
  opts: { loss: LossKind; seed: number; bnInference?: boolean; fromBlock?: number | 'head' },
): StepResult {
  return e.tidy(() => {
    const ctx = { training: true, bnInference: opts.bnInference, seed: opts.seed };
    const logits = opts.fromBlock === undefined ? net.forward(e, x, ctx) : net.forwardFrom(e, x, opts.fromBlock, ctx);
    const { loss, dlogits } = lossAndGrad(e, opts.loss, logits, labels);
    const correct = accuracy(e, logits, labels);
    net.backward(e, dlogits);
    const params = net.trainableParams().filter((p) => p.grad);
    optimizer.step(
      e,
      params.map((p) => ({ param: p.value, grad: p.grad!, key: p.name })),
    );
    for (const p of params) p.grad = null;
    return { loss, correct };
  });
}
