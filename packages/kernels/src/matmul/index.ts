// Kernel family 'matmul': each kernel file is exported here.
export {
  MATMUL_WG,
  type MatmulTile,
  type MatmulMap,
  matmulWorkgroups,
  matmulKSlices,
  matmulGroupBlock,
  matmulVecPath,
  MATMUL_SG,
  type MatmulShare,
  type MatmulConfig,
  type MatmulReduceConfig,
  matmulTileKey,
  validateMatmulConfig,
  matmul,
  matmulSplitK,
  matmulSplitKReduce,
} from './matmul.js';
export { type ColsumConfig, colsum, colsumReluMask } from './colsum.js';
