// Learning-rate schedules as functions of the optimizer's step count (Keras `iterations`), so a
// resumed run (iterations restored) continues the same curve.

export type LearningRateSchedule = (iteration: number) => number;

export interface CosineDecayOptions {
  initialLearningRate: number;
  /** Steps over which the rate decays (Keras `decay_steps`). */
  decaySteps: number;
  /** Floor as a fraction of the initial rate (Keras `alpha`, default 0). */
  alpha?: number;
}

/** Keras `CosineDecay`: lr(t) = lr0 · ((1 − α) · ½(1 + cos(π · min(t, T) / T)) + α). */
export function cosineDecay(o: CosineDecayOptions): LearningRateSchedule {
  const { initialLearningRate: lr0, decaySteps: T } = o;
  const alpha = o.alpha ?? 0;
  if (!(lr0 > 0) || !Number.isFinite(lr0)) throw new Error(`cosineDecay: initialLearningRate must be > 0, got ${lr0}`);
  if (!Number.isInteger(T) || T < 1) throw new Error(`cosineDecay: decaySteps must be an integer >= 1, got ${T}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`cosineDecay: alpha must be in [0, 1], got ${alpha}`);
  return (t) => {
    const c = 0.5 * (1 + Math.cos((Math.PI * Math.min(t, T)) / T));
    return lr0 * ((1 - alpha) * c + alpha);
  };
}
