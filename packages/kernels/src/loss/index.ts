// Kernel family 'loss': each kernel file is exported here.
export {};
