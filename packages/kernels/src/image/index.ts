// Kernel family 'image': each kernel file is exported here.
export {};
