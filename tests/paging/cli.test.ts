// The CLI with the binding limit forced small (MNV2_MAX_BINDING_BYTES) runs in pages and says so,
// with the same results; a batch larger than the device's memory (MNV2_DEVICE_MEMORY) is refused
// up front with the largest batch that fits, exit code 1, and the run folder left as it was; so is a
// batch whose largest activation would not fit one buffer (maxBufferSize).
import { describe, it, beforeAll, expect } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, mnv2With, SHARED } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';

const IMAGES = join(SHARED, 'datasets/coral_test_images');

describe(`${GPU} CLI: tensors above the binding limit, and device memory`, () => {
  let tmp: string;
  let data: string;
  beforeAll(() => {
    ({ tmp, data } = cliWorkspace('mnv2-paging-', 6));
  }, 120_000);

  it('classify at 224 with the binding limit forced to 8 MiB: pages, same top-5 as unforced', () => {
    const files = ['cat.bmp', 'grace_hopper.bmp', 'bird.bmp'].map((f) => join(IMAGES, f));
    const run = (env: Record<string, string>) => {
      const r = mnv2With(env, 'classify', ...files, '--batch-size', '3', '--json');
      expect(r.code, r.stderr).toBe(0);
      return { doc: JSON.parse(r.stdout) as { results: { top: { label: string; probability: number }[] }[] }, stderr: r.stderr };
    };
    const whole = run({});
    const paged = run({ MNV2_MAX_BINDING_BYTES: '8MiB' });
    expect(whole.stderr).not.toMatch(/ran in pages/);
    // [3,112,112,96] activations are 14 MiB: they must have run in pages of one image
    expect(paged.stderr).toMatch(/tensors above the adapter's 8 MiB binding limit ran in pages: \d+ op calls in \d+ pages/);
    expect(paged.doc.results.map((r) => r.top.map((t) => t.label))).toEqual(whole.doc.results.map((r) => r.top.map((t) => t.label)));
    paged.doc.results.forEach((r, i) => r.top.forEach((t, k) => expect(t.probability).toBeCloseTo(whole.doc.results[i].top[k].probability, 4)));
  }, 120_000);

  it('train with the binding limit forced to 4 MiB runs in pages and says so', () => {
    const out = join(tmp, 'paged-run');
    // (4 MiB still binds the largest alpaca photo, 1024x768 RGB)
    const r = mnv2With({ MNV2_MAX_BINDING_BYTES: '4MiB' }, 'train', data, '--image-size', '96', '--batch-size', '12', '--epochs', '1', '--fine-tune-at', '140', '--fine-tune-epochs', '1', '--out', out);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ran in pages: \d+ op calls in \d+ pages/);
    expect(r.stdout).toMatch(/Epoch 2\/2 .* loss: \d/);
  }, 120_000);

  it('a batch larger than device memory: the largest batch that fits, exit 1, run folder untouched', () => {
    const out = join(tmp, 'existing-run');
    mkdirSync(out);
    writeFileSync(join(out, 'model.safetensors'), 'weights of an earlier run');
    writeFileSync(join(out, 'config.json'), '{"command":"train"}');
    const r = mnv2With({ MNV2_DEVICE_MEMORY: '128MiB' }, 'train', data, '--image-size', '96', '--batch-size', '64', '--epochs', '1', '--out', out, '--force');
    expect(r.code).toBe(1);
    const m = /out of device memory: a training step at 96x96 \(frozen base\) at batch 64 needs about (\d+) MiB of device memory in all but the device has 128 MiB: the largest batch that fits is (\d+) \(--batch-size \2, or --batch-size auto\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const [need, fit] = [Number(m![1]), Number(m![2])];
    expect(need).toBeGreaterThan(128);
    expect(fit).toBeGreaterThanOrEqual(1);
    expect(fit).toBeLessThan(64);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(readFileSync(join(out, 'model.safetensors'), 'utf8')).toBe('weights of an earlier run');

    // --batch-size auto takes that batch and trains within the memory
    const auto = join(tmp, 'auto-run');
    const a = mnv2With({ MNV2_DEVICE_MEMORY: '128MiB' }, 'train', data, '--image-size', '96', '--batch-size', 'auto', '--epochs', '1', '--out', auto);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(a.stdout).toContain(`[mnv2] --batch-size auto: ${fit} (the largest that fits 128 MiB of device memory at 96x96, frozen base`);
    const peak = /peak device memory (\d+) MiB of 128/.exec(a.stdout);
    expect(peak, a.stdout).not.toBeNull();
    expect(Number(peak![1])).toBeLessThanOrEqual(128);
  }, 180_000);

  it("a batch whose largest activation exceeds the device's largest buffer: refused up front, exit 1", () => {
    // MNV2_LIMITS=default: maxBufferSize 256 MiB (as many browsers grant). At 96x96 block_1_expand's
    // output is 48x48x96 f32 = 864 KiB per image: 400 images need 338 MiB in one buffer, 303 fit.
    const out = join(tmp, 'buffer-run');
    mkdirSync(out);
    writeFileSync(join(out, 'config.json'), '{"command":"train"}');
    const r = mnv2With({ MNV2_LIMITS: 'default' }, 'train', data, '--image-size', '96', '--batch-size', '400', '--epochs', '1', '--out', out, '--force');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "out of device memory: a training step at 96x96 (frozen base) at batch 400 (its largest activation) needs 338 MiB in one buffer but this device's largest buffer is 256 MiB: the largest batch that fits is 303 (--batch-size 303, or --batch-size auto)",
    );
    expect(readdirSync(out)).toEqual(['config.json']);
  }, 120_000);
});
