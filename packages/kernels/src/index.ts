export * from './uniforms.js';
export * from './wgsl.js';
export * from './define-kernel.js';
export * from './activation/relu6.js';
export * from './activation/relu6.backward.js';
