// Kernel family 'norm': each kernel file is exported here.

export * from './batchnorm-stats.js';
export * from './batchnorm-stats-finalize.js';
export * from './batchnorm-fold.js';
export * from './batchnorm-apply.js';
export * from './batchnorm.backward.js';
export * from './batchnorm.backward-finalize.js';
export * from './batchnorm.backward-dx.js';
export * from './batchnorm.backward-train.js';
