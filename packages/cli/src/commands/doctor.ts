// `mnv2 doctor`: which adapter, which limits and features; exits 1 with the setup hint if none.
import { DEFAULT_DEPTHWISE_VARIANT, DEPTHWISE_VARIANTS, hasSubgroups8 } from '@mnv2/core';
import { createNodeEngine, describeAdapter } from '../node-gpu.js';
import { loadTuning } from '../tuning-file.js';

const FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'];
const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function doctor(args: string[]): Promise<number> {
  const { engine, adapter } = await createNodeEngine();
  const info = adapter.info;
  console.log(`[mnv2] WebGPU adapter: ${describeAdapter(adapter)}`);
  if (args.includes('--brief')) {
    engine.destroy();
    return 0;
  }
  console.log(`  vendor:       ${info.vendor || '-'}`);
  console.log(`  architecture: ${info.architecture || '-'}`);
  console.log(`  device:       ${info.device || '-'}`);
  console.log(`  description:  ${info.description || '-'}`);
  console.log(`  software:     ${/llvmpipe|lavapipe|swiftshader/i.test(`${info.description} ${info.architecture} ${info.device}`) ? 'yes (expect ~100x slower than a GPU)' : 'no'}`);
  console.log('  features:');
  for (const f of FEATURES) console.log(`    ${f.padEnd(16)} ${adapter.features.has(f) ? 'yes' : 'no'}`);
  // the adapter's limits, and what this device was granted where it differs (MNV2_LIMITS=default)
  console.log(`  limits:${process.env.MNV2_LIMITS === 'default' ? " (MNV2_LIMITS=default: the device takes WebGPU's defaults)" : ''}`);
  for (const l of LIMITS) {
    const granted = engine.device.limits[l];
    console.log(`    ${l.padEnd(36)} ${adapter.limits[l]}${granted !== adapter.limits[l] ? `  (this device: ${granted})` : ''}`);
  }
  // Which kernel variants run: matmul (pointwise convolutions, dense) tuned per adapter or heuristic.
  const t = loadTuning(engine);
  console.log('  variants:');
  console.log(`    matmul             ${t.loaded ? `tuned for this adapter (${t.shapes} products, ${t.file})` : `built-in heuristic (tuning: ${t.why}; ${t.file})`}`);
  console.log(`    subgroup matmul    ${hasSubgroups8(engine) ? 'yes (8-lane subgroups)' : 'no (needs 8-lane subgroups)'}`);
  const dwRuns = DEFAULT_DEPTHWISE_VARIANT === 'subgroup' && !hasSubgroups8(engine) ? ` (runs 'strip' here: no 8-lane subgroups)` : '';
  console.log(`    depthwise          ${DEFAULT_DEPTHWISE_VARIANT}${dwRuns} (also ${DEPTHWISE_VARIANTS.filter((v) => v !== DEFAULT_DEPTHWISE_VARIANT).join(', ')}: ConvOptions.depthwiseVariant)`);
  engine.destroy();
  return 0;
}
