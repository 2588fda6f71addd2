// The Keras-shaped API (issue 7): MobileNetV2 base, sequential models, datasets, callbacks.
// Platform-neutral; `@mnv2/cli/node` registers Node's engine and file access.
/**
 * The Keras-shaped API (platform-neutral part, exported by `@mnv2/core`).
 * @module @mnv2/core (Keras API)
 */
export * from './platform.js';
export * from './layers.js';
export * from './losses.js';
export * from './base.js';
export * from './data.js';
export * from './callbacks.js';
export * from './model.js';
export * from './optimizers.js';
export * from './transfer-learning.js';
