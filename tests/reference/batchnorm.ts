// f64 reference for BatchNorm over the last (channel) axis of a flat [rows, C] view (NHWC).
// Keras semantics: biased batch variance for normalization and for the moving average,
// moving = moving·momentum + batch·(1 − momentum). ReLU6 masks from the output: 0 < y < 6.

export interface BnParamsRef {
  gamma: Float64Array;
  beta: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  eps: number;
}

const relu6 = (v: number) => Math.min(Math.max(v, 0), 6);
const mask = (y: number) => (y > 0 && y < 6 ? 1 : 0);

export function bnFoldRef(p: BnParamsRef): { scale: Float64Array; shift: Float64Array } {
  const scale = p.gamma.map((g, c) => g / Math.sqrt(p.variance[c] + p.eps));
  const shift = p.beta.map((b, c) => b - p.mean[c] * scale[c]);
  return { scale, shift };
}

export function bnInferenceRef(x: Float64Array, channels: number, p: BnParamsRef, useRelu6: boolean): Float64Array {
  return x.map((v, i) => {
    const c = i % channels;
    const y = ((v - p.mean[c]) / Math.sqrt(p.variance[c] + p.eps)) * p.gamma[c] + p.beta[c];
    return useRelu6 ? relu6(y) : y;
  });
}

export function bnInferenceBackwardRef(
  x: Float64Array,
  y: Float64Array,
  dy: Float64Array,
  channels: number,
  p: BnParamsRef,
  useRelu6: boolean,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(channels);
  const dbeta = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    const inv = 1 / Math.sqrt(p.variance[c] + p.eps);
    const g = dy[i] * (useRelu6 ? mask(y[i]) : 1);
    dx[i] = g * p.gamma[c] * inv;
    dgamma[c] += g * (x[i] - p.mean[c]) * inv;
    dbeta[c] += g;
  }
  return { dx, dgamma, dbeta };
}

export interface BnTrainingRefResult {
  y: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  invStd: Float64Array;
  movingMean: Float64Array;
  movingVariance: Float64Array;
}

export function bnTrainingRef(
  x: Float64Array,
  channels: number,
  gamma: Float64Array,
  beta: Float64Array,
  movingMean: Float64Array,
  movingVariance: Float64Array,
  eps: number,
  momentum: number,
  useRelu6: boolean,
): BnTrainingRefResult {
  const rows = x.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) mean[i % channels] += x[i] / rows;
  for (let i = 0; i < x.length; i++) variance[i % channels] += (x[i] - mean[i % channels]) ** 2 / rows;
  const invStd = variance.map((v) => 1 / Math.sqrt(v + eps));
  const y = x.map((v, i) => {
    const c = i % channels;
    const o = (v - mean[c]) * invStd[c] * gamma[c] + beta[c];
    return useRelu6 ? relu6(o) : o;
  });
  return {
    y,
    mean,
    variance,
    invStd,
    movingMean: movingMean.map((m, c) => m * momentum + mean[c] * (1 - momentum)),
    movingVariance: movingVariance.map((m, c) => m * momentum + variance[c] * (1 - momentum)),
  };
}

/** dx = (gamma·invStd/M)·(M·dŷ − Σdŷ − x̂·Σdŷx̂), dgamma = Σdŷx̂, dbeta = Σdŷ. */
export function bnTrainingBackwardRef(
  x: Float64Array,
  y: Float64Array,
  dy: Float64Array,
  channels: number,
  mean: Float64Array,
  invStd: Float64Array,
  gamma: Float64Array,
  useRelu6: boolean,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const m = x.length / channels;
  const dgamma = new Float64Array(channels);
  const dbeta = new Float64Array(channels);
  const g = dy.map((d, i) => d * (useRelu6 ? mask(y[i]) : 1));
  const xh = x.map((v, i) => (v - mean[i % channels]) * invStd[i % channels]);
  for (let i = 0; i < x.length; i++) {
    dbeta[i % channels] += g[i];
    dgamma[i % channels] += g[i] * xh[i];
  }
  const dx = x.map((_, i) => {
    const c = i % channels;
    return ((gamma[c] * invStd[c]) / m) * (m * g[i] - dbeta[c] - xh[i] * dgamma[c]);
  });
  return { dx, dgamma, dbeta };
}
