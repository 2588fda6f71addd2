// Few-shot transfer learning: a handful of classes with ~30 training images each, MobileNetV2 base
// with all but its top 4 layers frozen (Keras `for layer in base.layers[:-4]: layer.trainable = False`),
// 5 epochs, accuracy on the held-out images.
//
//   npx tsx examples/few-shot/main.ts [--data DIR] [--small] [--out DIR] [--weights PATH] [--per-class N] [--test-per-class M]
//
// DIR: one sub-folder of images per class (default: ../shared/datasets/alpaca/dataset). Per class,
// N images (default 30, chosen with a seeded shuffle) train and the next M (default 50) are the test set.
// --small: 8 + 8 images per class at 96x96, 2 epochs (what the test runs).
import { join } from 'node:path';
import { MobileNetV2, adam, createNodeEngine, describeAdapter, imageDatasetFromDirectory, layers, losses, numpyShuffle, sequential, setDefaultEngine } from '@mnv2/cli/node';
import { fmt, linkFolder, listClasses, num, parseExampleArgs, sharedDir, writeJson, runMain } from '../shared/cli.js';
import { writeCurvesSvg } from '../shared/plot.js';

async function main(): Promise<void> {
  const args = parseExampleArgs('few-shot');
  if (args.values.has('help')) {
    console.log('usage: npx tsx examples/few-shot/main.ts [--data DIR] [--small] [--out DIR] [--weights PATH] [--per-class N] [--test-per-class M] [--epochs N]');
    return;
  }
  const small = args.small;
  const root = args.data ?? join(sharedDir(), 'datasets/alpaca/dataset');
  const perClass = num(args, 'per-class', small ? 8 : 30);
  const testPerClass = num(args, 'test-per-class', small ? 8 : 50);
  const S = num(args, 'image-size', small ? 96 : 160);
  const epochs = num(args, 'epochs', small ? 2 : 5);
  const batchSize = num(args, 'batch-size', small ? 8 : 16);

  // The few-shot split: per class, a seeded choice of `perClass` training images; the next ones test.
  const all = listClasses(root);
  const pick = (k: number) => Object.fromEntries(Object.entries(all).map(([c, f]) => [c, numpyShuffle([...f], 42).slice(k === 0 ? 0 : perClass, k === 0 ? perClass : perClass + testPerClass)]));
  const trainDir = linkFolder(root, pick(0));
  const testDir = linkFolder(root, pick(1));

  const { engine, adapter } = await createNodeEngine();
  setDefaultEngine(engine);
  console.log(`adapter: ${describeAdapter(adapter)}`);
  const train = await imageDatasetFromDirectory(trainDir, { imageSize: [S, S], batchSize, seed: 42 });
  const test = await imageDatasetFromDirectory(testDir, { imageSize: [S, S], batchSize, seed: 42 });
  const K = train.classNames.length;
  console.log(`${K} classes (${train.classNames.join(', ')}): ${train.size} training images (${perClass} per class), ${test.size} test images`);

  const base = await MobileNetV2.pretrained({ inputShape: [S, S, 3], includeTop: false, weights: args.weights });
  base.trainable = true;
  for (const layer of base.layers.slice(0, -4)) layer.trainable = false;
  console.log(`trainable base layers: ${base.layers.filter((l) => l.trainable).map((l) => l.name).join(', ')}`);

  const model = sequential([
    layers.input({ shape: [S, S, 3] }),
    layers.randomFlip('horizontal'),
    layers.preprocessInput(),
    base,
    layers.globalAveragePooling2d(),
    layers.dropout(0.2),
    layers.dense(K, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: adam({ learningRate: 1e-3 }), loss: losses.sparseCategoricalCrossentropy(), metrics: ['accuracy'] });
  const counts = model.countParams();
  console.log(`params: ${counts.total.toLocaleString('en-US')} total, ${counts.trainable.toLocaleString('en-US')} trainable`);
  const history = await model.fit(train, { epochs, validationData: test });
  const r = await model.evaluate(test);
  console.log(`test accuracy: ${fmt(r.accuracy)} (${r.samples} images, ${K} classes, chance ${(1 / K).toFixed(2)})`);

  writeCurvesSvg(join(args.out, 'curves.svg'), history.history, { title: `few-shot: ${perClass} images per class, top 4 base layers trainable` });
  writeJson(args.out, 'history.json', history.history);
  writeJson(args.out, 'result.json', {
    example: 'few-shot',
    small,
    adapter: describeAdapter(adapter),
    classes: train.classNames,
    perClass,
    trainImages: train.size,
    testImages: test.size,
    trainableParams: counts.trainable,
    valAccuracy: history.history.val_accuracy,
    testAccuracy: r.accuracy,
    secondsPerEpoch: history.history.seconds,
  });
  model.dispose();
  train.dispose();
  test.dispose();
  engine.destroy();
}

runMain(main);
