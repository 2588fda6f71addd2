// Ops of family 'elementwise' (forward + backward dispatch, shape checks): each op file is exported here.
export * from './add.js';
export * from './global-pool.js';
export * from './dropout.js';
