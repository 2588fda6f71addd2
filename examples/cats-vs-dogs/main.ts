// Cats vs dogs — the TensorFlow tutorial "Transfer learning and fine-tuning" (MobileNetV2), in TypeScript.
//
//   npx tsx examples/cats-vs-dogs/main.ts [--data PATH] [--small] [--out DIR] [--weights PATH]
//
// PATH is the extracted cats_and_dogs_filtered folder (train/{cats,dogs}, validation/{cats,dogs}):
//   curl -LO https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip && unzip cats_and_dogs_filtered.zip
// Default PATH: ./cats_and_dogs_filtered. The tutorial: 160x160, batch 32, test set = the first
// fifth of the validation batches (take/skip), flip + rotation augmentation, MobileNetV2 base frozen
// (training=False), GAP → Dropout(0.2) → Dense(1) logits, Adam(1e-4), 10 epochs; then fine-tune from
// layer 100 with RMSprop(1e-5) for 10 more; test accuracy; predictions on a test batch.
// Writes curves.svg (accuracy/loss), history.json, result.json.
// --small: 96x96, batch 8, 2 + 1 epochs (any folder in the same layout; the test builds one).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MobileNetV2, adam, createNodeEngine, describeAdapter, imageDatasetFromDirectory, layers, losses, rmsprop, sequential, setDefaultEngine } from '@mnv2/cli/node';
import { fmt, num, parseExampleArgs, writeJson, runMain } from '../shared/cli.js';
import { concatCurves, writeCurvesSvg } from '../shared/plot.js';

const URL = 'https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip';

async function main(): Promise<void> {
  const args = parseExampleArgs('cats-vs-dogs');
  if (args.values.has('help')) {
    console.log('usage: npx tsx examples/cats-vs-dogs/main.ts [--data cats_and_dogs_filtered] [--small] [--out DIR] [--weights PATH] [--epochs N] [--fine-tune-epochs N]');
    return;
  }
  const PATH = resolve(args.data ?? 'cats_and_dogs_filtered');
  const trainDir = join(PATH, 'train');
  const validationDir = join(PATH, 'validation');
  if (!existsSync(trainDir) || !existsSync(validationDir)) {
    console.error(`cats-vs-dogs: no dataset at ${PATH} (expected train/ and validation/ folders with one sub-folder per class).\nDownload it from the tutorial's URL and pass --data:\n  curl -LO ${URL}\n  unzip cats_and_dogs_filtered.zip\n  npx tsx examples/cats-vs-dogs/main.ts --data cats_and_dogs_filtered`);
    process.exit(2);
  }
  const small = args.small;
  const S = num(args, 'image-size', small ? 96 : 160);
  const BATCH_SIZE = num(args, 'batch-size', small ? 8 : 32);
  const IMG_SIZE = [S, S] as const;
  const initialEpochs = num(args, 'epochs', small ? 2 : 10);
  const fineTuneEpochs = num(args, 'fine-tune-epochs', small ? 1 : 10);

  const { engine, adapter } = await createNodeEngine();
  setDefaultEngine(engine);
  console.log(`adapter: ${describeAdapter(adapter)}`);

  const trainDataset = await imageDatasetFromDirectory(trainDir, { shuffle: true, batchSize: BATCH_SIZE, imageSize: IMG_SIZE, seed: 42 });
  let validationDataset = await imageDatasetFromDirectory(validationDir, { shuffle: true, batchSize: BATCH_SIZE, imageSize: IMG_SIZE, seed: 42 });
  const classNames = trainDataset.classNames;
  const valBatches = validationDataset.cardinality();
  const testDataset = validationDataset.take(Math.floor(valBatches / 5));
  validationDataset = validationDataset.skip(Math.floor(valBatches / 5));
  console.log(`Number of validation batches: ${validationDataset.cardinality()}`);
  console.log(`Number of test batches: ${testDataset.cardinality()}`);

  const base = await MobileNetV2.pretrained({ inputShape: [S, S, 3], includeTop: false, weights: args.weights });
  base.trainable = false;
  const model = sequential([
    layers.input({ shape: [S, S, 3] }),
    layers.randomFlip('horizontal'),
    layers.randomRotation(0.2),
    layers.preprocessInput(),
    base,
    layers.globalAveragePooling2d(),
    layers.dropout(0.2),
    layers.dense(1),
  ]);
  const baseLearningRate = 0.0001;
  model.compile({ optimizer: adam({ learningRate: baseLearningRate }), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  console.log(model.summary());

  const initial = await model.evaluate(validationDataset);
  console.log(`initial loss: ${fmt(initial.loss)}\ninitial accuracy: ${fmt(initial.accuracy)}`);
  const history = await model.fit(trainDataset.prefetch(), { epochs: initialEpochs, validationData: validationDataset.prefetch() });

  // Fine-tuning.
  base.trainable = true;
  console.log(`Number of layers in the base model: ${base.layers.length}`);
  const fineTuneAt = 100;
  for (const layer of base.layers.slice(0, fineTuneAt)) layer.trainable = false;
  model.compile({ loss: losses.binaryCrossentropy({ fromLogits: true }), optimizer: rmsprop({ learningRate: baseLearningRate / 10 }), metrics: ['accuracy'] });
  console.log(`Trainable params: ${model.countParams().trainable.toLocaleString('en-US')}`);
  const historyFine = await model.fit(trainDataset, { epochs: initialEpochs + fineTuneEpochs, initialEpoch: history.epoch.length, validationData: validationDataset });

  const curves = concatCurves(history.history, historyFine.history);
  writeCurvesSvg(join(args.out, 'curves.svg'), curves, { title: `cats vs dogs: MobileNetV2 ${S}x${S}, fine-tune from layer ${fineTuneAt}`, fineTuneAt: history.epoch.length });
  writeJson(args.out, 'history.json', curves);

  const test = testDataset.size ? await model.evaluate(testDataset) : null;
  console.log(test ? `Test accuracy : ${fmt(test.accuracy)} (${test.samples} images)` : 'Test set is empty (fewer than 5 validation batches)');

  // Predictions on a batch of test images: sigmoid of the logit, thresholded at 0.5.
  const { images, labels } = await (testDataset.size ? testDataset : validationDataset).firstBatch();
  const logits = await model.predict(images);
  const predictions = logits.map(([z]) => (1 / (1 + Math.exp(-z)) < 0.5 ? 0 : 1));
  console.log(`Predictions:\n ${JSON.stringify(predictions)}\nLabels:\n ${JSON.stringify(labels)}`);
  console.log(predictions.map((p, i) => `${classNames[p]}${p === labels[i] ? '' : ` (is ${classNames[labels[i]]})`}`).join(', '));

  const seconds = [...(history.history.seconds ?? []), ...(historyFine.history.seconds ?? [])];
  writeJson(args.out, 'result.json', {
    example: 'cats-vs-dogs',
    small,
    adapter: describeAdapter(adapter),
    imageSize: S,
    trainImages: trainDataset.size,
    validationImages: validationDataset.size,
    testImages: testDataset.size,
    initialAccuracy: initial.accuracy,
    valAccuracy: curves.val_accuracy,
    testAccuracy: test?.accuracy ?? null,
    predictions,
    labels,
    secondsPerEpoch: seconds,
  });
  console.log(`wrote ${join(args.out, 'curves.svg')}`);
  model.dispose();
  for (const d of [trainDataset, validationDataset, testDataset]) d.dispose();
  engine.destroy();
}

runMain(main);
