// Clear messages for the smaller findings of the hostile-user review: each names the flag or path
// and what to do (no raw ELOOP/EROFS/EPERM, no misleading fetch hint, no 100 % one-output classifier).
import { describe, it, beforeAll, expect } from 'vitest';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, mnv2 } from '../helpers/cli.js';
import { fsErrorMessage } from '../../packages/cli/src/util/fs-errors.js';
import { GPU } from '../helpers/gpu.js';

const errno = (code: string) => Object.assign(new Error(`${code}: raw`), { code });

describe('file-system errors as sentences', () => {
  it('names the path and what to do for each common code', () => {
    expect(fsErrorMessage(errno('ENOSPC'), '/r/model.safetensors', 'write')).toBe("cannot write '/r/model.safetensors': the disk is full (or over quota): free some space or choose another folder; files saved before are intact");
    expect(fsErrorMessage(errno('EROFS'), '/r', 'create the run folder')).toMatch(/^cannot create the run folder '\/r': the file system is read-only: choose a writable folder/);
    expect(fsErrorMessage(errno('ELOOP'), '/d', 'read')).toMatch(/symbolic link loop/);
    expect(fsErrorMessage(errno('EACCES'), '/d', 'read')).toMatch(/permission denied/);
    expect(fsErrorMessage(errno('EWHATEVER'), '/d', 'read')).toBe("cannot read '/d': EWHATEVER: raw");
  });
});

describe(`${GPU} CLI messages`, () => {
  let tmp: string;
  let data: string;
  beforeAll(() => {
    ({ tmp, data } = cliWorkspace('mnv2-messages-', 4));
  }, 120_000);

  it('a value flag followed by another flag says the value is missing', () => {
    const r = mnv2('train', data, '--epochs', '--image-size', '96');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('train: --epochs needs a value, got the option --image-size instead');
  });

  it('--alpha that Keras never published says so instead of suggesting a fetch', () => {
    const r = mnv2('train', data, '--alpha', '0.6', '--out', join(tmp, 'a06'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Keras publishes ImageNet MobileNetV2 weights only for alpha 0.35, 0.5, 0.75, 1, 1.3, 1.4; for alpha 0.6 train from scratch with --weights none/);
    expect(r.stderr).not.toMatch(/weights fetch --alpha 0.6/);
  });

  it('a symbolic link loop is named (train, classify)', () => {
    const loop = join(tmp, 'loop');
    symlinkSync(loop, loop);
    const t = mnv2('train', loop, '--out', join(tmp, 'x'));
    expect(t.stderr).toMatch(/dataset '.*loop' is a symbolic link loop/);
    const c = mnv2('classify', loop);
    expect(c.stderr).toMatch(/classify: cannot read '.*loop': it is a symbolic link loop/);
    expect(t.stderr + c.stderr).not.toMatch(/ELOOP/);
  });

  it('a run folder that cannot be created names it and what to do', () => {
    const r = mnv2('train', data, '--image-size', '32', '--epochs', '1', '--out', '/sys/mnv2-run');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot create the run folder '\/sys\/mnv2-run': (permission denied|the file system is read-only)/);
  });

  it('classify refuses a one-output model exported from a run instead of reporting 100 %', () => {
    const run = join(tmp, 'run');
    expect(mnv2('train', data, '--image-size', '32', '--epochs', '1', '--out', run).code).toBe(0);
    const onnx = join(tmp, 'run.onnx');
    const x = mnv2('export', '--onnx', onnx, run);
    expect(x.code, x.stderr).toBe(0);
    const c = mnv2('classify', join(data, 'alpaca'), '--weights', onnx);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/has a 1-output head .* Use 'mnv2 predict RUN-DIR IMAGES'/);
    expect(c.stdout).not.toMatch(/100\.00%/);
  }, 60_000);
});
