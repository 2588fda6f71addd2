// f64 references for classification losses (mean over the batch) and metrics.

export function softmaxRef(logits: Float64Array, n: number, k: number): Float64Array {
  const p = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, logits[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[r * k + j] - m);
    for (let j = 0; j < k; j++) p[r * k + j] = Math.exp(logits[r * k + j] - m) / s;
  }
  return p;
}

/** Sparse softmax cross-entropy: per-example loss, mean loss, and d(mean)/dlogits. */
export function softmaxCrossEntropyRef(logits: Float64Array, labels: ArrayLike<number>, n: number, k: number) {
  const p = softmaxRef(logits, n, k);
  const perExample = new Float64Array(n);
  const dlogits = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, logits[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[r * k + j] - m);
    perExample[r] = m + Math.log(s) - logits[r * k + labels[r]];
    for (let j = 0; j < k; j++) dlogits[r * k + j] = (p[r * k + j] - (j === labels[r] ? 1 : 0)) / n;
  }
  const loss = perExample.reduce((a, b) => a + b, 0) / n;
  return { perExample, loss, dlogits };
}

/** Sigmoid binary cross-entropy from logits (stable form), mean, and its gradient. */
export function sigmoidBceRef(logits: Float64Array, labels: ArrayLike<number>) {
  const n = logits.length;
  const perExample = logits.map((z, i) => Math.max(z, 0) - z * labels[i] + Math.log1p(Math.exp(-Math.abs(z))));
  const dlogits = logits.map((z, i) => (1 / (1 + Math.exp(-z)) - labels[i]) / n);
  const loss = perExample.reduce((a, b) => a + b, 0) / n;
  return { perExample, loss, dlogits };
}

/** Correct predictions: argmax (first on ties) == label, or (logit > 0) == (label > 0.5) when k = 1. */
export function accuracyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, n: number, k: number): number {
  let correct = 0;
  for (let r = 0; r < n; r++) {
    if (k === 1) {
      if (logits[r] > 0 === labels[r] > 0.5) correct++;
      continue;
    }
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[r * k + j] > logits[r * k + best]) best = j;
    if (best === labels[r]) correct++;
  }
  return correct;
}
