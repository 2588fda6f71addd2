// Kernel family 'loss': each kernel file is exported here.
export * from './softmax-cross-entropy.js';
export * from './sigmoid-binary-cross-entropy.js';
export * from './loss-mean.js';
export * from './accuracy.js';
export * from './softmax.js';
