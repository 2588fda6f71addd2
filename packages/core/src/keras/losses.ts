// Loss descriptors for `model.compile({ loss })`, Keras names.

/** `keras.losses.BinaryCrossentropy(from_logits=...)`. */
export interface BinaryCrossentropy {
  readonly kind: 'BinaryCrossentropy';
  readonly fromLogits: boolean;
}
/** `keras.losses.SparseCategoricalCrossentropy(from_logits=...)`. */
export interface SparseCategoricalCrossentropy {
  readonly kind: 'SparseCategoricalCrossentropy';
  readonly fromLogits: boolean;
}
/** A loss accepted by `compile`. */
export type Loss = BinaryCrossentropy | SparseCategoricalCrossentropy;

/**
 * `keras.losses.BinaryCrossentropy`: one output unit, labels 0/1. With `fromLogits: true` the last
 * Dense has no activation (the tutorial); with `false` it must have `activation: 'sigmoid'`.
 */
export function binaryCrossentropy(opts: { fromLogits?: boolean } = {}): BinaryCrossentropy {
  return { kind: 'BinaryCrossentropy', fromLogits: opts.fromLogits ?? false };
}

/**
 * `keras.losses.SparseCategoricalCrossentropy`: K output units, integer labels. With `fromLogits: true`
 * the last Dense has no activation; with `false` it must have `activation: 'softmax'`.
 */
export function sparseCategoricalCrossentropy(opts: { fromLogits?: boolean } = {}): SparseCategoricalCrossentropy {
  return { kind: 'SparseCategoricalCrossentropy', fromLogits: opts.fromLogits ?? false };
}

/** Loss constructors under Keras' names (`losses.binaryCrossentropy({ fromLogits: true })`). */
export const losses = { binaryCrossentropy, sparseCategoricalCrossentropy } as const;
