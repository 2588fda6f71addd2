// Ops of family 'conv' (forward + backward dispatch, shape checks): each op file is exported here.
export {};
