// Ops of family 'optim' (forward + backward dispatch, shape checks): each op file is exported here.
export { BaseOptimizer, type Optimizer, type OptimizerConfig, type ParamGrad, type UpdateCtx } from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './rmsprop.js';
