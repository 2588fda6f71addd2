// Nothing a user saved is lost: `train --force` replaces the previous run only when the new run
// commits its first checkpoint (a failure before that puts every old file back, byte for byte);
// `--resume` without the checkpoint refuses instead of starting over on top of a finished model;
// `--epochs 0` with nothing to fine-tune is refused instead of "Done" with no model.
import { describe, it, beforeAll, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, mnv2, mnv2With } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';

const snapshot = (dir: string) => new Map(readdirSync(dir).filter((f) => !f.startsWith('.')).map((f) => [f, readFileSync(join(dir, f))]));

describe(`${GPU} train: the run folder is never lost`, () => {
  let tmp: string;
  let data: string;
  const train = (out: string, ...extra: string[]) => ['train', data, '--image-size', '32', '--batch-size', '8', '--epochs', '1', '--out', out, ...extra];
  beforeAll(() => {
    ({ tmp, data } = cliWorkspace('mnv2-runfolder-', 6));
  }, 120_000);

  it('--force that fails before its first checkpoint leaves the previous run intact; one that commits replaces it', () => {
    const out = join(tmp, 'run');
    const first = mnv2(...train(out));
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const before = snapshot(out);
    expect([...before.keys()].sort()).toEqual(['checkpoint.safetensors', 'config.json', 'curves.html', 'history.json', 'model.safetensors']);

    // the GPU is lost at the first step: no checkpoint is committed
    const failed = mnv2With({ MNV2_FAULT: 'device-lost-at-step:1' }, ...train(out, '--force', '--seed', '7'));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/GPU device lost/);
    const after = snapshot(out);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [f, bytes] of before) expect(after.get(f)!.equals(bytes), `${f} is byte-identical`).toBe(true);
    expect(existsSync(join(out, '.previous-run'))).toBe(false);

    // a --force run that commits replaces the old run, and nothing is left aside
    const ok = mnv2(...train(out, '--force', '--seed', '7'));
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(existsSync(join(out, '.previous-run'))).toBe(false);
    expect(readFileSync(join(out, 'model.safetensors')).equals(before.get('model.safetensors')!)).toBe(false);
  }, 170_000);

  it('--resume with the checkpoint deleted refuses and keeps the finished model', () => {
    const out = join(tmp, 'resume-run');
    const r = mnv2(...train(out));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const model = readFileSync(join(out, 'model.safetensors'));
    rmSync(join(out, 'checkpoint.safetensors'));
    const again = mnv2('train', '--out', out, '--resume');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/checkpoint\.safetensors is missing, but the run had finished 1 epoch \(its model\.safetensors is kept\)/);
    expect(readFileSync(join(out, 'model.safetensors')).equals(model)).toBe(true);
  }, 120_000);

  it('--epochs 0 with no fine-tuning is refused with a message', () => {
    const r = mnv2('train', data, '--epochs', '0', '--out', join(tmp, 'nothing'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--epochs 0 with no fine-tuning epochs trains nothing/);
    expect(existsSync(join(tmp, 'nothing'))).toBe(false);
  });
});
