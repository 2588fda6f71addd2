// A depthwise kernel's `inputBn`: its input is a training BatchNorm's raw input z, and it convolves
// x = relu6((z − inMean[c]) · inScale[c] + inBeta[c]) (the BatchNorm apply with ReLU6, same
// arithmetic as batchnorm-apply.ts), applied to each value as it is loaded so that x is never
// stored. Padding stays 0 (only values inside the input are transformed). Shared by the subgroup,
// strip and register-blocked depthwise kernels (forward and filter gradient).

/** The per-channel parameters (f32 arrays, one value per channel). */
export const INPUT_BN_BINDINGS = { inMean: 'read', inScale: 'read', inBeta: 'read' } as const;

/**
 * WGSL: this invocation's channels of the parameters, loaded once (`channels(arr)` gives the
 * expression for one array, e.g. `arr[c]` or a vec4 of four), or '' when the kernel has no inputBn.
 */
export const inputBnLoads = (enabled: boolean | undefined, channels: (arr: string) => string) =>
  enabled ? `let inMu = ${channels('inMean')}; let inSc = ${channels('inScale')}; let inB = ${channels('inBeta')};` : '';

/** WGSL: the loaded value `v` (of type `type`) normalized and clamped, or `v` itself without inputBn. */
export const inputBnApply = (enabled: boolean | undefined, v: string, type: string) =>
  enabled ? `clamp((${v} - inMu) * inSc + inB, ${type}(0.0), ${type}(6.0))` : v;
