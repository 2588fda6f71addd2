// Kernel family 'optim': each kernel file is exported here.
export {};
