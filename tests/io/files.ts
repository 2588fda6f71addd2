// Paths of the shared, read-only weight files (../shared/weights beside the repository) for io tests.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WEIGHTS_DIR = fileURLToPath(new URL('../../../shared/weights/', import.meta.url));
export const TFSLIM_DIR = `${WEIGHTS_DIR}tfslim_npy_mobilenet_v2_1.0_224/`;
export const TFLITE_QUANT = `${WEIGHTS_DIR}tflite/mobilenet_v2_1.0_224_quant.tflite`;
export const TFLITE_KERAS = `${WEIGHTS_DIR}tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite`;
export const TFLITE_TF2 = `${WEIGHTS_DIR}tflite/tf2_mobilenet_v2_1.0_224_ptq.tflite`;

/** Every file of the TF-Slim dump folder, by file name (as the CLI hands them to importTfSlim). */
export function readTfSlimFolder(): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const f of readdirSync(TFSLIM_DIR)) files[f] = readFileSync(TFSLIM_DIR + f);
  return files;
}
export const ONNX_INT8 = `${WEIGHTS_DIR}onnx/mobilenetv2-12-int8.onnx`;
