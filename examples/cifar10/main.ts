// CIFAR-10 at 32x32 with a MobileNetV2 base — the classic Keras lab, in TypeScript.
//
//   npx tsx examples/cifar10/main.ts [--data DIR] [--small] [--out DIR] [--weights PATH] [--limit N]
//
// DIR holds the CIFAR-10 *binary* version (data_batch_1.bin … data_batch_5.bin, test_batch.bin):
//   curl -LO https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz && tar xzf cifar-10-binary.tar.gz
// Default DIR: ./cifar-10-batches-bin. The lab: MobileNetV2(input_shape=(32,32,3), include_top=False,
// weights='imagenet') frozen → GlobalAveragePooling2D → Dense(128, relu) → Dense(10, softmax);
// Adam(1e-3), sparse categorical cross-entropy, validation on the test set; then the whole base
// unfrozen and fine-tuned with Adam(1e-5); test accuracy printed. Writes curves.svg, history.json, result.json.
// --small: 2 + 1 epochs, batch 16 (the test runs it on a small file it writes in the real format).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MobileNetV2, CIFAR10_URL, adam, createNodeEngine, describeAdapter, layers, loadCifar10, losses, sequential, setDefaultEngine } from '@mnv2/cli/node';
import { fmt, num, parseExampleArgs, writeJson, runMain } from '../shared/cli.js';
import { concatCurves, writeCurvesSvg } from '../shared/plot.js';

async function main(): Promise<void> {
  const args = parseExampleArgs('cifar10');
  if (args.values.has('help')) {
    console.log('usage: npx tsx examples/cifar10/main.ts [--data cifar-10-batches-bin] [--small] [--out DIR] [--weights PATH] [--limit N] [--epochs N] [--fine-tune-epochs N]');
    return;
  }
  const dir = resolve(args.data ?? 'cifar-10-batches-bin');
  if (!existsSync(dir)) {
    console.error(`cifar10: no CIFAR-10 data at ${dir}.\nDownload the binary version and pass --data:\n  curl -LO ${CIFAR10_URL}\n  tar xzf cifar-10-binary.tar.gz\n  npx tsx examples/cifar10/main.ts --data cifar-10-batches-bin`);
    process.exit(2);
  }
  const small = args.small;
  const batchSize = num(args, 'batch-size', small ? 16 : 32);
  const epochs = num(args, 'epochs', small ? 2 : 5);
  const fineTuneEpochs = num(args, 'fine-tune-epochs', small ? 1 : 3);
  const limit = args.values.has('limit') ? num(args, 'limit', 0) : undefined;

  const { engine, adapter } = await createNodeEngine();
  setDefaultEngine(engine);
  console.log(`adapter: ${describeAdapter(adapter)}`);

  const { train, test, classNames } = await loadCifar10(dir, { batchSize, limit: limit ? { train: limit, test: Math.ceil(limit / 5) } : undefined });
  console.log(`CIFAR-10: ${train.size} training and ${test.size} test images (${classNames.join(', ')})`);

  const base = await MobileNetV2.pretrained({ inputShape: [32, 32, 3], includeTop: false, weights: args.weights });
  base.trainable = false;
  const model = sequential([
    layers.input({ shape: [32, 32, 3] }),
    layers.preprocessInput(),
    base,
    layers.globalAveragePooling2d(),
    layers.dense(128, { activation: 'relu' }),
    layers.dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: adam({ learningRate: 1e-3 }), loss: losses.sparseCategoricalCrossentropy(), metrics: ['accuracy'] });
  console.log(model.summary());
  const history = await model.fit(train, { epochs, validationData: test });

  // Fine-tune the whole base at a low learning rate.
  base.trainable = true;
  model.compile({ optimizer: adam({ learningRate: 1e-5 }), loss: losses.sparseCategoricalCrossentropy(), metrics: ['accuracy'] });
  console.log(`Trainable params: ${model.countParams().trainable.toLocaleString('en-US')}`);
  const historyFine = await model.fit(train, { epochs: epochs + fineTuneEpochs, initialEpoch: history.epoch.length, validationData: test });

  const result = await model.evaluate(test);
  console.log(`Test accuracy: ${fmt(result.accuracy)} (test loss ${fmt(result.loss)}, ${result.samples} images)`);
  const curves = concatCurves(history.history, historyFine.history);
  writeCurvesSvg(join(args.out, 'curves.svg'), curves, { title: 'CIFAR-10: MobileNetV2 32x32', fineTuneAt: history.epoch.length });
  writeJson(args.out, 'history.json', curves);
  writeJson(args.out, 'result.json', {
    example: 'cifar10',
    small,
    adapter: describeAdapter(adapter),
    trainImages: train.size,
    testImages: test.size,
    valAccuracy: curves.val_accuracy,
    testAccuracy: result.accuracy,
    testLoss: result.loss,
    secondsPerEpoch: [...(history.history.seconds ?? []), ...(historyFine.history.seconds ?? [])],
  });
  model.dispose();
  train.dispose();
  test.dispose();
  engine.destroy();
}

runMain(main);
