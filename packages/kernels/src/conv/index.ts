// Kernel family 'conv': each kernel file is exported here.
export {};
