// Kernel family 'norm': each kernel file is exported here.
export {};
