// Ops of family 'conv' (forward + backward dispatch, shape checks): each op file is exported here.
export { type PaddingMode, type ConvOptions, type ConvGeometry, convGeometry, type DepthwiseVariant, DEPTHWISE_VARIANTS, DEFAULT_DEPTHWISE_VARIANT } from './conv-common.js';
export { conv2d, conv2dBackwardInput, conv2dBackwardFilter } from './conv2d.js';
export { depthwiseConv2d, depthwiseConv2dBackwardInput, depthwiseConv2dBackwardFilter, depthwiseFilterForm, depthwiseFusesInputBn } from './depthwise-conv2d.js';
