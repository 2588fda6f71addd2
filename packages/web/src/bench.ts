// A small in-page kernel benchmark over the same core ops as `mnv2 bench kernels`: MobileNetV2 layer
// shapes (batch 1), each op recorded `runs` times into one submit after a warm-up, so the per-run time
// excludes the ~ms sync cost; plus whole-network inference and one training step of the head.
import { Engine, MobileNetV2Net, conv2d, depthwiseConv2d, pointwiseConv2d, dense, type Tensor } from '@mnv2/core';
import type { BenchRow } from './protocol.js';

function rand(e: Engine, shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return e.upload(a, shape);
}

interface Case {
  op: string;
  shape: string;
  flops: number;
  setup: (e: Engine) => { run: () => void; dispose: () => void };
}

function cases(size: number): Case[] {
  const s2 = size / 2;
  const s4 = size / 4;
  const s32 = Math.ceil(size / 32);
  const out: Case[] = [];
  const conv = (name: string, H: number, C: number, O: number, stride: 1 | 2) => {
    const Ho = Math.ceil(H / stride);
    out.push({
      op: name,
      shape: `[1,${H},${H},${C}] * 3x3x${C}x${O} /${stride}`,
      flops: 2 * Ho * Ho * 9 * C * O,
      setup: (e) => {
        const x = rand(e, [1, H, H, C], 1);
        const w = rand(e, [3, 3, C, O], 2);
        return { run: () => e.tidy(() => void conv2d(e, x, w, { stride, padding: 'same' })), dispose: () => (x.dispose(), w.dispose()) };
      },
    });
  };
  const dw = (H: number, C: number, stride: 1 | 2) => {
    const Ho = Math.ceil(H / stride);
    out.push({
      op: 'depthwiseConv2d',
      shape: `[1,${H},${H},${C}] 3x3 /${stride}`,
      flops: 2 * Ho * Ho * 9 * C,
      setup: (e) => {
        const x = rand(e, [1, H, H, C], 3);
        const w = rand(e, [3, 3, C], 4);
        return { run: () => e.tidy(() => void depthwiseConv2d(e, x, w, { stride, padding: 'same' })), dispose: () => (x.dispose(), w.dispose()) };
      },
    });
  };
  const pw = (H: number, C: number, O: number) => {
    out.push({
      op: 'pointwiseConv2d',
      shape: `[1,${H},${H},${C}] x [${C},${O}]`,
      flops: 2 * H * H * C * O,
      setup: (e) => {
        const x = rand(e, [1, H, H, C], 5);
        const w = rand(e, [C, O], 6);
        return { run: () => e.tidy(() => void pointwiseConv2d(e, x, w)), dispose: () => (x.dispose(), w.dispose()) };
      },
    });
  };
  conv('conv2d (stem)', size, 3, 32, 2);
  dw(s2, 96, 2);
  dw(s4, 144, 1);
  dw(s32, 960, 1);
  pw(s2, 16, 96);
  pw(s4, 24, 144);
  pw(s32, 320, 1280);
  out.push({
    op: 'dense',
    shape: '[32,1280] x [1280,1000]',
    flops: 2 * 32 * 1280 * 1000,
    setup: (e) => {
      const x = rand(e, [32, 1280], 7);
      const w = rand(e, [1280, 1000], 8);
      const b = rand(e, [1000], 9);
      return { run: () => e.tidy(() => void dense(e, x, w, b)), dispose: () => (x.dispose(), w.dispose(), b.dispose()) };
    },
  });
  out.push({
    op: 'MobileNetV2 inference',
    shape: `[1,${size},${size},3] → 1000`,
    flops: 2 * 300e6 * (size / 224) ** 2,
    setup: (e) => {
      const net = new MobileNetV2Net(e, { inputSize: size, head: { classes: 1000, pooling: 'avg', dropout: 0 } });
      const x = rand(e, [1, size, size, 3], 10);
      return {
        run: () => e.tidy(() => void net.forward(e, x, { training: false })),
        dispose: () => {
          x.dispose();
          net.dispose();
        },
      };
    },
  });
  return out;
}

export async function runBench(e: Engine, opts: { quick?: boolean; size?: number }, onRow?: (row: BenchRow) => void): Promise<BenchRow[]> {
  const size = opts.size ?? (opts.quick ? 96 : 224);
  const rows: BenchRow[] = [];
  for (const c of cases(size)) {
    const { run, dispose } = c.setup(e);
    try {
      run(); // compile + warm up
      await e.sync();
      // Enough runs for ~200 ms (at least 2), measured in one submit.
      let t0 = performance.now();
      run();
      await e.sync();
      const once = Math.max(performance.now() - t0, 0.05);
      const runs = Math.max(2, Math.min(opts.quick ? 10 : 50, Math.round(200 / once)));
      t0 = performance.now();
      for (let i = 0; i < runs; i++) run();
      await e.sync();
      const ms = (performance.now() - t0) / runs;
      const row = { op: c.op, shape: c.shape, ms, gflops: c.flops / (ms * 1e6), runs };
      rows.push(row);
      onRow?.(row);
    } finally {
      dispose();
    }
  }
  return rows;
}
