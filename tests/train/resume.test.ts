// `mnv2 train --resume`: a run SIGKILLed after a checkpoint, resumed, ends with the same weights as
// the uninterrupted run (optimizer slots + iterations restored, per-epoch shuffle/augmentation/dropout
// seeds derived from (seed, epoch, step), the fine-tuning phase recreated).
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors } from '@mnv2/core';
import { GPU } from '../helpers/gpu.js';
import { buildCli, MAIN, mnv2, ROOT, linkAlpacaSubset } from '../helpers/cli.js';


const env = () => {
  const v = { ...process.env };
  delete v.MNV2_DEBUG;
  return v;
};

const tmp = mkdtempSync(join(tmpdir(), 'mnv2-resume-'));
const data = join(tmp, 'data');

beforeAll(() => {
  buildCli();
  linkAlpacaSubset(data, 6);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const epochsDone = (dir: string): number => {
  try {
    return (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { epochsDone: number }).epochsDone;
  } catch {
    return 0;
  }
};

describe(`${GPU} mnv2 train --resume (built CLI)`, () => {
  it('a run killed (frozen phase, then fine-tuning) and resumed ends with the uninterrupted weights', async () => {
    const flags = ['--epochs', '2', '--fine-tune-at', '140', '--fine-tune-epochs', '2', '--image-size', '64', '--batch-size', '4', '--val-split', '0.25', '--seed', '7', '--restore-best', '--lr-schedule', 'cosine'];
    const runA = join(tmp, 'a');
    const a = mnv2('train', data, ...flags, '--out', runA);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/Epoch 4\/4/);

    // Same run, killed once epoch 1's checkpoint is committed (mid frozen phase: frozen optimizer
    // state restored), resumed, killed again after epoch 3 (mid fine-tuning), resumed to the end.
    const runB = join(tmp, 'b');
    const killAfter = async (args: string[], epoch: number) => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: env(), stdio: 'ignore' });
      const exited = new Promise<void>((res) => child.on('exit', () => res()));
      for (let t = 0; t < 2400 && child.exitCode === null && epochsDone(runB) < epoch; t++) await new Promise((r) => setTimeout(r, 20));
      expect(child.exitCode, 'the run finished before it could be killed').toBeNull();
      child.kill('SIGKILL');
      await exited;
      const done = epochsDone(runB);
      expect(done).toBeGreaterThanOrEqual(epoch);
      expect(done).toBeLessThan(4);
      return done;
    };
    let done = await killAfter(['train', data, ...flags, '--out', runB], 1);
    expect(done).toBeLessThan(2); // killed inside the frozen phase
    for (const f of readdirSync(runB).filter((f) => f.includes('.tmp-'))) rmSync(join(runB, f)); // a write cut short by the kill
    done = await killAfter(['train', '--out', runB, '--resume'], 3);

    // The killed run's folder holds a valid checkpoint and no partial files.
    const cfg = JSON.parse(readFileSync(join(runB, 'config.json'), 'utf8')) as { epochsDone: number; fineTuneAt: number };
    expect(cfg.fineTuneAt).toBe(140);
    const model = parseSafetensors(readFileSync(join(runB, 'model.safetensors')));
    expect(model.weights.get('dense/kernel')?.shape).toEqual([1280, 1]);
    const ck = parseSafetensors(readFileSync(join(runB, 'checkpoint.safetensors')));
    const state = JSON.parse(ck.metadata.state) as { iterations: number; phase: string; epochsDone: number; best: { epoch: number } | null };
    expect(state.iterations).toBeGreaterThan(0);
    expect(['frozen', 'fine-tune']).toContain(state.phase);
    expect(state.epochsDone).toBeGreaterThanOrEqual(done);
    expect(ck.weights.has('optimizer/dense/kernel/momentum')).toBe(true);
    expect(state.best).not.toBeNull(); // --restore-best: the best weights travel in the checkpoint
    expect(ck.weights.has(`best/dense/kernel`)).toBe(true);
    expect(JSON.parse(readFileSync(join(runB, 'history.json'), 'utf8')).length).toBeGreaterThanOrEqual(done);
    for (const f of readdirSync(runB).filter((f) => f.includes('.tmp-'))) rmSync(join(runB, f)); // a write cut short by the kill

    // Conflicting flags are refused; the run's own flags come from config.json.
    const bad = mnv2('train', '--out', runB, '--resume', '--seed', '8');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--seed 8 conflicts/);
    expect(mnv2('train', '--out', join(tmp, 'none'), '--resume').stderr).toMatch(/config\.json not found/);

    // Ctrl-C during the next segment: it stops after the current step, saves a mid-epoch
    // checkpoint and exits 130; resuming continues inside that epoch.
    const child = spawn(process.execPath, [MAIN, 'train', '--out', runB, '--resume', '--batch-size', '4'], { cwd: ROOT, env: env() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    for (let t = 0; t < 2400 && child.exitCode === null && !/cached inputs \(train\)/.test(err); t++) await new Promise((r) => setTimeout(r, 20));
    expect(out, err).toMatch(/Resuming .* after epoch (3\/4 \(fine-tune phase|4\/4)/);
    child.kill('SIGINT');
    expect(await code, err).toBe(130);
    expect(err).toMatch(/Ctrl-C: stopping after this step/);
    expect(out).toMatch(/Interrupted (at step 1 of epoch 4|after epoch 4)/);
    const cfgInt = JSON.parse(readFileSync(join(runB, 'config.json'), 'utf8')) as { interruptedAt: { epoch: number; step: number } | null };
    if (/Interrupted at step/.test(out)) expect(cfgInt.interruptedAt).toEqual({ epoch: 4, step: 1 });

    const r = mnv2('train', '--out', runB, '--resume', '--batch-size', '4');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Resuming .* after epoch (3\/4 \(fine-tune phase, \d+ optimizer steps, at step 1 of epoch 4\)|4\/4)/);
    expect(r.stdout).not.toMatch(/Epoch 1\/4/);
    expect(r.stdout).toMatch(/Restored the weights of epoch \d/);
    const hist = JSON.parse(readFileSync(join(runB, 'history.json'), 'utf8')) as { epoch: number; fine_tune: number }[];
    expect(hist.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(hist.map((h) => h.fine_tune)).toEqual([0, 0, 1, 1]);
    expect(existsSync(join(runB, 'checkpoint.safetensors'))).toBe(true);
    // The resumed run kept the uninterrupted run's best epoch and history.
    const ha = JSON.parse(readFileSync(join(runA, 'history.json'), 'utf8')) as { loss: number }[];
    hist.forEach((h, i) => expect((h as unknown as { loss: number }).loss).toBeCloseTo(ha[i].loss, 4));
    expect(JSON.parse(readFileSync(join(runB, 'config.json'), 'utf8')).restoredEpoch).toBe(JSON.parse(readFileSync(join(runA, 'config.json'), 'utf8')).restoredEpoch);

    const wa = parseSafetensors(readFileSync(join(runA, 'model.safetensors'))).weights;
    const wb = parseSafetensors(readFileSync(join(runB, 'model.safetensors'))).weights;
    expect([...wb.keys()].sort()).toEqual([...wa.keys()].sort());
    // Per tensor, relative to the tensor's largest value (BN variances dwarf the head's weights).
    const worse: string[] = [];
    for (const [name, t] of wa) {
      const u = wb.get(name)!;
      let maxAbs = 0;
      let maxDiff = 0;
      for (let i = 0; i < t.data.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(t.data[i]));
        maxDiff = Math.max(maxDiff, Math.abs(t.data[i] - u.data[i]));
      }
      if (!(maxDiff <= 1e-5 * maxAbs)) worse.push(`${name}: max |A - B| ${maxDiff} (max |A| ${maxAbs})`);
    }
    expect(worse).toEqual([]);
  }, 120_000);
});
