// Ops of family 'optim' (forward + backward dispatch, shape checks): each op file is exported here.
export {};
