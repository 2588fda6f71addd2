// Ops of family 'loss' (forward + backward dispatch, shape checks): each op file is exported here.
export * from './cross-entropy.js';
export * from './accuracy.js';
