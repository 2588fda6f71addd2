// Kernel family 'optim': each kernel file is exported here.
export { OPTIM_WG } from './common.js';
export * from './sgd.js';
export * from './adam.js';
export * from './rmsprop.js';
export * from './adam-multi.js';
