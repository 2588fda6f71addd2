// Quiet by default: Dawn's own notices (written by native code to fd 2) are dropped from the output
// of every command unless --verbose / MNV2_VERBOSE=1; errors and everything else pass through.
import { describe, it, beforeAll, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli, linkAlpacaSubset, MAIN, mnv2, mnv2With, ROOT, SHARED } from '../helpers/cli.js';
import { GPU } from '../helpers/gpu.js';
import { NoticeFilter } from '../../packages/cli/src/quiet.js';

const NOTICE = /artificially reduced/;
const UNIFORM = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const STORAGE = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';

describe('NoticeFilter', () => {
  it('drops exactly the known notice lines, whole, and keeps every other line and partial line', () => {
    const f = new NoticeFilter();
    expect(f.push(`${UNIFORM}\n${STORAGE}\nerror: something\n`)).toBe('error: something\n');
    // a notice split across chunks is held until it completes, then dropped
    expect(f.push('Warning: maxDynamicUni')).toBe('');
    expect(f.push('formBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\nnext')).toBe('next');
    // a line that starts like a notice but is not one is kept
    expect(f.push('\nWarning: maxDynamicUniformBuffersPerPipelineLayout is odd\n')).toBe('\nWarning: maxDynamicUniformBuffersPerPipelineLayout is odd\n');
    // other warnings are not ours to hide
    expect(f.push('Warning: something else\n')).toBe('Warning: something else\n');
    // progress redraws (\r, no newline) go out at once
    expect(f.push('\rtrain [===   ] 3/10')).toBe('\rtrain [===   ] 3/10');
    expect(f.push('\rtrain [======] 10/10\n')).toBe('\rtrain [======] 10/10\n');
    // a partial notice at the end of the stream is written, not lost
    expect(f.push('Warning: maxDyn')).toBe('');
    expect(f.end()).toBe('Warning: maxDyn');
  });
});

describe(`${GPU} mnv2 is quiet by default`, () => {
  let tmp: string;
  let data: string;
  let run: string;
  beforeAll(() => {
    buildCli();
    tmp = mkdtempSync(join(tmpdir(), 'mnv2-quiet-'));
    data = join(tmp, 'data');
    linkAlpacaSubset(data, 3);
    run = join(tmp, 'run');
  }, 120_000);

  it('doctor: no notice by default; --verbose and MNV2_VERBOSE=1 show them; the rest is identical', () => {
    const quiet = mnv2('doctor');
    const verbose = mnv2('doctor', '--verbose');
    const env = mnv2With({ MNV2_VERBOSE: '1' }, 'doctor');
    for (const r of [quiet, verbose, env]) expect(r.code, r.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(NOTICE);
    expect(quiet.stdout).toMatch(/WebGPU adapter/);
    expect(verbose.stdout).toBe(quiet.stdout);
    // The notices exist on lavapipe (what CI runs on); elsewhere, verbose may have none to show.
    if (/llvmpipe|lavapipe/.test(quiet.stdout)) {
      expect(verbose.stderr).toContain(UNIFORM);
      expect(verbose.stderr).toContain(STORAGE);
      expect(env.stderr).toContain(UNIFORM);
    }
    const dropNotices = (s: string) => s.split('\n').filter((l) => !NOTICE.test(l)).join('\n');
    expect(dropNotices(verbose.stderr)).toBe(quiet.stderr);
  }, 60_000);

  it('train, evaluate, predict, classify: no notice; --verbose shows it; results on stdout unchanged', () => {
    const t = mnv2('train', data, '--image-size', '32', '--epochs', '1', '--val-split', '0', '--out', run);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout + t.stderr).not.toMatch(NOTICE);
    expect(existsSync(join(run, 'model.safetensors'))).toBe(true);

    const e = mnv2('evaluate', run, data, '--json');
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout + e.stderr).not.toMatch(NOTICE);

    const p = mnv2('predict', run, join(data, 'alpaca'), '--json');
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout + p.stderr).not.toMatch(NOTICE);

    const cat = join(SHARED, 'datasets/coral_test_images/cat.bmp');
    const c = mnv2('classify', cat, '--top', '1');
    const cv = mnv2('classify', cat, '--top', '1', '--verbose');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout + c.stderr).not.toMatch(NOTICE);
    expect(cv.stdout).toBe(c.stdout);
    expect(c.stdout).toMatch(/Egyptian cat/);
    if (/llvmpipe|lavapipe/.test(mnv2('doctor').stdout)) expect(cv.stderr).toMatch(NOTICE);
  }, 300_000);

  it('errors stay visible with their exit status', () => {
    const r = mnv2('classify', join(tmp, 'no-such-image.jpg'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no-such-image\.jpg/);
    expect(r.stderr).not.toMatch(NOTICE);
    const u = mnv2('no-such-command');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown command 'no-such-command'/);
  }, 60_000);

  it('the hidden child dies with the command (SIGKILL) and a forwarded SIGINT stops it', async () => {
    const childOf = (pid: number) => {
      const f = `/proc/${pid}/task/${pid}/children`;
      return existsSync(f) ? readFileSync(f, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : [];
    };
    const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const waitFor = async (ok: () => boolean, ms: number) => {
      for (const t0 = Date.now(); Date.now() - t0 < ms; ) {
        if (ok()) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return ok();
    };
    // at once (the child may not have set itself up yet), and once it runs (it printed its adapter)
    for (const [sig, when] of [['SIGKILL', 'at once'], ['SIGKILL', 'running'], ['SIGINT', 'running']] as const) {
      const cmd = spawn(process.execPath, [MAIN, 'demo', '--alpha', '0.35', '--size', '96', '--batch', '2', '--steps', '1000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      cmd.stdout.on('data', (d: Buffer) => void (out += d.toString()));
      const exited = new Promise<{ code: number | null; signal: string | null }>((r) => cmd.on('exit', (code, signal) => r({ code, signal })));
      let child = 0;
      expect(await waitFor(() => (child = childOf(cmd.pid!)[0] ?? 0) > 0, 10_000), 'the command started its child').toBe(true);
      if (when === 'running') expect(await waitFor(() => /adapter/.test(out), 20_000), 'the child printed its adapter').toBe(true);
      cmd.kill(sig);
      const end = await exited;
      expect(await waitFor(() => !alive(child), 10_000), `child ${child} still alive after ${sig} (${when}) to the command`).toBe(true);
      if (sig === 'SIGINT') expect(end.signal === 'SIGINT' || end.code === 130, JSON.stringify(end)).toBe(true);
    }
  }, 60_000);
});
