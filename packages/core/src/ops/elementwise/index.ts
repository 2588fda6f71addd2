// Ops of family 'elementwise' (forward + backward dispatch, shape checks): each op file is exported here.
export {};
