// Ops of family 'matmul' (forward + backward dispatch, shape checks): each op file is exported here.
export {};
