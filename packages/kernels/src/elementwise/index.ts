// Kernel family 'elementwise': each kernel file is exported here.
export * from './flat-loop.js';
export * from './add.js';
export * from './add-inplace.js';
export * from './fill.js';
export * from './scale.js';
export * from './scale-inplace.js';
export * from './global-pool.js';
export * from './global-avg-pool.backward.js';
export * from './global-max-pool.backward.js';
export * from './dropout.js';
export * from './copy.js';
