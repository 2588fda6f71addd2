// Ops of family 'loss' (forward + backward dispatch, shape checks): each op file is exported here.
export {};
