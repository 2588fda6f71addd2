#!/usr/bin/env node
// mnv2 command line: a thin shell over @mnv2/core. Each command lives in commands/<name>.ts.
// Nothing heavy is imported up front: without --verbose this process only relays a child's output
// (quiet.ts) and must start fast.
import { isVerbose, runFiltered, setUpChild } from './quiet.js';

const HELP = `mnv2 — MobileNetV2 transfer learning on WebGPU (from-scratch WGSL kernels)

Usage: mnv2 <command> [options] [--verbose]

Commands:
  doctor [--brief]        Show the WebGPU adapter, its limits and features (shader-f16,
                          timestamp-query, subgroups). Run this first if anything fails.
  demo [--alpha A] [--size S] [--batch B] [--steps N]
                          Forward + backward + optimizer steps of a MobileNetV2-shaped network
                          with random weights; prints timings per phase.
  classify <image or folder>… [--weights PATH] [--top K] [--crop none|center] [--json]
                          ImageNet top-K classes of images (a folder: all its images, batched)
                          with a pretrained MobileNetV2 (.tflite, Keras .h5, .onnx, .safetensors, TF-Slim .npy).
  train <data> [--epochs N] [--fine-tune-at N] [--fine-tune-epochs N] [--out DIR] …
                          Transfer learning (Keras tutorial): a folder with one sub-folder of images
                          per class, a 'path,label' list file or a CIFAR-10 binary folder; ImageNet
                          MobileNetV2 base frozen + new head, optional fine-tuning; checkpoints per
                          epoch in --out, Ctrl-C saves, --resume continues. 'mnv2 train --help'.
  evaluate <run-dir> <data> [--batch-size B] [--json]
                          Loss and accuracy of a trained run on a dataset (the kinds train takes).
  predict <run-dir> <image or folder>… [--json]
                          Class and probability per image with a trained run.
  weights fetch [--alpha A] [--size S] [--no-top] [--cache-dir DIR]
                          Download Keras' MobileNetV2 ImageNet weights (.h5) into the cache
                          (resumable, verified) and print the file's path.
  summary [--alpha A] [--size S] [--no-top] [--frozen | --fine-tune-at N]
                          Keras-identical layer list and parameter counts (model.summary()).
  export (--onnx | --tflite | --keras-h5) FILE [WEIGHTS | RUN-DIR] [--int8] …
                          Write the model (pretrained, or trained with 'mnv2 train') as float ONNX,
                          TFLite float32 / full-integer int8 (calibrated on the run's images), or
                          Keras .h5 weights (the tutorial model's model.save_weights; docs/KERAS.md).
  tune [--image-size S] [--batch-size B] [--budget SEC]
                          Measure the fastest matmul variant of every product MobileNetV2 runs on
                          this adapter and keep it (per adapter, in the cache); 'mnv2 tune --help'.
  bench kernels [--quick] [--out FILE]
                          Time every kernel on MobileNetV2's real layer shapes (alpha 1.0 at 224
                          and 160, batch 1 and 8): ms, GFLOP/s, GB/s, next to the adapter's best
                          matmul GFLOP/s measured in the same run.
  bench infer [--quick] [--out FILE] [--peers tfjs,ort-webgpu,ort-cpu]
                          MobileNetV2 1.0 inference (224 b1, 224 b8, 160 b8) side by side with
                          TF.js WebGPU and ONNX Runtime (WebGPU, CPU) on the same adapter.
  bench train [--quick] [--out FILE]
                          One training step (160² batch 8: base frozen, fine-tune from layer 100,
                          whole network) side by side with TF.js WebGPU's trainOnBatch.

Environment:
  VK_ICD_FILENAMES        Pick a Vulkan driver (e.g. /usr/share/vulkan/icd.d/lvp_icd.json).
  MNV2_CACHE              Folder for downloaded weights (default ~/.cache/mnv2/weights).
  MNV2_TUNING_DIR         Folder of 'mnv2 tune' results (default ~/.cache/mnv2/tuning).
  MNV2_TUNING             auto (default): the first train/classify/predict/evaluate on an adapter
                          without results measures them (at most MNV2_TUNING_BUDGET s, default 30)
                          and saves them; load: only use saved ones; off: the built-in heuristic.
  MNV2_VERBOSE=1          Same as --verbose: also show the WebGPU driver's own notices (Dawn's
                          'Warning: maxDynamic…BuffersPerPipelineLayout artificially reduced …'),
                          hidden by default. Errors are always shown.

Examples:
  mnv2 doctor
  mnv2 demo --alpha 0.35 --size 96 --batch 4
  mnv2 classify cat.jpg --top 3
  mnv2 train ../shared/datasets/alpaca/dataset --epochs 5 --fine-tune-at 120 --fine-tune-epochs 3
  mnv2 weights fetch --alpha 0.35 --size 96 --no-top
  mnv2 bench kernels --quick
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(HELP);
      return 0;
    case 'doctor':
      return (await import('./commands/doctor.js')).doctor(rest);
    case 'demo':
      return (await import('./commands/demo.js')).demo(rest);
    case 'classify':
      return (await import('./commands/classify.js')).classify(rest);
    case 'train':
      return (await import('./commands/train.js')).train(rest);
    case 'evaluate':
      return (await import('./commands/evaluate.js')).evaluate(rest);
    case 'predict':
      return (await import('./commands/predict.js')).predict(rest);
    case 'summary':
      return (await import('./commands/summary.js')).summary(rest);
    case 'export':
      return (await import('./commands/export.js')).exportModel(rest);
    case 'bench':
      return (await import('./commands/bench.js')).bench(rest);
    case 'tune':
      return (await import('./commands/tune.js')).tune(rest);
    case 'weights':
      return (await import('./commands/weights.js')).weights(rest);
    default:
      console.error(`mnv2: unknown command '${cmd}'. Run 'mnv2 --help' for the list.`);
      return 2;
  }
}

/** Exit status of a process ended by SIGPIPE (128 + 13), what shell tools report when the reader closed early. */
const EPIPE_STATUS = 141;

// A reader that closes early (`mnv2 classify folder | head -1`) is not an error: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EPIPE_STATUS);
    throw err;
  });
}

/**
 * Exits once stdout and stderr have handed everything to the OS: process.exit() alone drops what a
 * pipe has not taken yet (output cut at 64 KiB). The WebGPU instance keeps the event loop alive, so
 * an explicit exit is still needed.
 */
function finish(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

const argv = process.argv.slice(2);
const verbose = isVerbose(argv);
const isChild = setUpChild();
const wantsHelp = argv.length === 0 || ['-h', '--help', 'help'].includes(argv[0]);

if (!isChild && !verbose && !wantsHelp) {
  runFiltered().then(finish);
} else {
  main(argv.filter((a) => a !== '--verbose')).then(
    (code) => finish(code),
    (err: unknown) => {
      console.error(`mnv2: ${err instanceof Error ? err.message : String(err)}`);
      if (process.env.MNV2_DEBUG && err instanceof Error) console.error(err.stack);
      finish(1);
    },
  );
}
