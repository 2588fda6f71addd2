// Kernel family 'matmul': each kernel file is exported here.
export {};
