// Placeholder until the web issue: the page-side entry re-exports the platform-neutral core, which
// runs on navigator.gpu unchanged (the Engine takes any GPUDevice).
export * from '@mnv2/core';

export async function createBrowserEngine(): Promise<import('@mnv2/core').Engine> {
  const { Engine } = await import('@mnv2/core');
  if (!('gpu' in navigator)) {
    throw new Error('WebGPU is not available in this browser: use Chrome/Edge 113+ or enable WebGPU (chrome://flags/#enable-unsafe-webgpu).');
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu found no adapter: WebGPU may be disabled or blocklisted for this GPU.');
  return new Engine(await adapter.requestDevice());
}
