// Weight import/export. Platform-neutral: every reader takes bytes (ArrayBuffer / typed array), never a path.
export * from './weight-map.js';
export * from './npy.js';
export * from './tfslim.js';
export * from './safetensors.js';
export * from './tflite-schema.js';
export * from './tflite.js';
export * from './h5.js';
export * from './onnx.js';
export * from './finite.js';
