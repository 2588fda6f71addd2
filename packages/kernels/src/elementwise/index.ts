// Kernel family 'elementwise': each kernel file is exported here.
export {};
