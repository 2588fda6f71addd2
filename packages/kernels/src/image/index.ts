// Kernel family 'image': each kernel file is exported here.
export { IMAGE_WG, imageHash32, imageRand01 } from './common.js';
export * from './resize.js';
export * from './augment.js';
export * from './u8-to-f32.js';
