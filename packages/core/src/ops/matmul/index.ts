// Ops of family 'matmul' (forward + backward dispatch, shape checks): each op file is exported here.
export {
  type MatmulVariant,
  type MatmulOptions,
  type MatmulDims,
  type MatmulShapeInfo,
  hasSubgroups8,
  matmul,
  matmulDispatch,
  chooseMatmulVariant,
  defaultMatmulTile,
  defaultSplitK,
} from './matmul.js';
export { pointwiseConv2d, pointwiseConv2dBackwardInput, pointwiseConv2dBackwardFilter } from './pointwise-conv2d.js';
export { dense, denseBackward, columnSum } from './dense.js';
export * from './tuning.js';
