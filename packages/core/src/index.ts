export * from './gpu/engine.js';
export * from './gpu/tensor.js';
export * from './gpu/errors.js';
export * from './gpu/buffer-pool.js';
export * from './ops/relu6.js';
