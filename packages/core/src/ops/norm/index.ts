// Ops of family 'norm' (forward + backward dispatch, shape checks): each op file is exported here.
export * from './batchnorm.js';
