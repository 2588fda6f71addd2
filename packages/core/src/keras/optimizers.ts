// Keras-style optimizer constructors: `optimizers.adam(1e-4)` as `keras.optimizers.Adam(1e-4)`
// (a learning rate or the full options), over core's adam/rmsprop/sgd.
import { adam, rmsprop, sgd, type AdamOptions, type Optimizer, type RmspropOptions, type SgdOptions } from '../ops/optim/index.js';

const opts = <T extends { learningRate?: number }>(a: number | T | undefined): T => (typeof a === 'number' ? ({ learningRate: a } as T) : (a ?? ({} as T)));

/**
 * Optimizer constructors taking a learning rate or options, under Keras' names:
 * `optimizers.adam(1e-4)`, `optimizers.rmsprop(1e-5)`, `optimizers.sgd({ learningRate: 0.01, momentum: 0.9 })`.
 */
export const optimizers = {
  /** `keras.optimizers.Adam(learning_rate)` (default 0.001). */
  adam: (a?: number | AdamOptions): Optimizer => adam(opts(a)),
  /** `keras.optimizers.RMSprop(learning_rate)` (default 0.001). */
  rmsprop: (a?: number | RmspropOptions): Optimizer => rmsprop(opts(a)),
  /** `keras.optimizers.SGD(learning_rate)` (default 0.01). */
  sgd: (a?: number | SgdOptions): Optimizer => sgd(opts(a)),
} as const;
