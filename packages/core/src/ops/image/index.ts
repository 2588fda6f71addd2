// Ops of family 'image' (forward + backward dispatch, shape checks): each op file is exported here.
export * from './resize.js';
export * from './augment.js';
