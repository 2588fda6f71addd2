// Kernel family 'conv': each kernel file is exported here.
export { CONV_WG, type ConvTileConfig, type ConvShapes } from './conv-common.js';
export { type Conv2dConfig, conv2d } from './conv2d.js';
export { conv2dBackwardInput } from './conv2d.backward-input.js';
export { conv2dBackwardFilter, conv2dFilterDispatch, convFilterReduce, type ConvFilterReduceConfig } from './conv2d.backward-filter.js';
export { depthwiseConv2d, type DepthwiseConv2dConfig } from './depthwise-conv2d.js';
export { depthwiseConv2dBackwardInput } from './depthwise-conv2d.backward-input.js';
export { depthwiseConv2dBackwardFilter, depthwiseFilterDispatch } from './depthwise-conv2d.backward-filter.js';
export {
  depthwiseConv2dStrip,
  depthwiseStripForwardDispatch,
  stripPlan,
  type DepthwiseStripConfig,
  type DepthwiseStripForwardConfig,
  STRIP_TARGET_INVOCATIONS,
  STRIP_MIN_ROWS,
} from './depthwise-conv2d-strip.js';
export { depthwiseConv2dStripBackwardInput, depthwiseStripBackwardInputDispatch } from './depthwise-conv2d-strip.backward-input.js';
export {
  depthwiseConv2dSubgroup,
  depthwiseConv2dSubgroupBackwardInput,
  depthwiseSubgroupDispatch,
  subgroupVec,
  DW_SG,
  type DepthwiseSubgroupConfig,
  type DepthwiseSubgroupForwardConfig,
} from './depthwise-conv2d-subgroup.js';
export { depthwiseConv2dSubgroupBackwardFilter, depthwiseSubgroupFilterDispatch } from './depthwise-conv2d-subgroup.backward-filter.js';
