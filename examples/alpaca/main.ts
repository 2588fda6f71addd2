// Alpaca / not alpaca — the DeepLearning.AI MobileNetV2 transfer-learning lab, in TypeScript.
//
//   npx tsx examples/alpaca/main.ts [--data DIR] [--small] [--out DIR] [--weights PATH]
//
// DIR holds `alpaca/` and `not alpaca/` (default: ../shared/datasets/alpaca/dataset). The lab:
// image_dataset_from_directory(validation_split=0.2, seed=42, image_size=160, batch_size=32);
// RandomFlip + RandomRotation(0.2); preprocess_input; MobileNetV2 base (frozen, training=False);
// GlobalAveragePooling2D → Dropout(0.2) → Dense(1); Adam(0.001), BinaryCrossentropy(from_logits);
// 5 epochs; then fine-tune from layer 120 with Adam(0.0001) for 5 more. Writes the validation
// accuracy curve (curves.svg), history.json, result.json and the model (model.safetensors).
// --small: 12 images per class at 96x96, batch 8, 2 + 1 epochs (what the test runs).
import { join } from 'node:path';
import {
  MobileNetV2,
  adam,
  createNodeEngine,
  describeAdapter,
  imageDatasetFromDirectory,
  layers,
  loadModel,
  losses,
  sequential,
  setDefaultEngine,
} from '@mnv2/cli/node';
import { fmt, linkFolder, listClasses, num, parseExampleArgs, sharedDir, writeJson, runMain } from '../shared/cli.js';
import { concatCurves, writeCurvesSvg } from '../shared/plot.js';

async function main(): Promise<void> {
  const args = parseExampleArgs('alpaca');
  if (args.values.has('help')) {
    console.log('usage: npx tsx examples/alpaca/main.ts [--data DIR] [--small] [--out DIR] [--weights PATH] [--epochs N] [--fine-tune-epochs N]');
    return;
  }
  let dir = args.data ?? join(sharedDir(), 'datasets/alpaca/dataset');
  const small = args.small;
  if (small) {
    // 12 images per class (the first by name), linked into a temp folder.
    const perClass = num(args, 'per-class', 12);
    const all = listClasses(dir);
    dir = linkFolder(dir, Object.fromEntries(Object.entries(all).map(([c, f]) => [c, f.slice(0, perClass)])));
  }
  const size = num(args, 'image-size', small ? 96 : 160);
  const batchSize = num(args, 'batch-size', small ? 8 : 32);
  const initialEpochs = num(args, 'epochs', small ? 2 : 5);
  const fineTuneEpochs = num(args, 'fine-tune-epochs', small ? 1 : 5);
  const baseLearningRate = 0.001;

  const { engine, adapter } = await createNodeEngine();
  setDefaultEngine(engine);
  console.log(`adapter: ${describeAdapter(adapter)}`);

  const IMG_SIZE = [size, size] as const;
  const trainDataset = (await imageDatasetFromDirectory(dir, { shuffle: true, batchSize, imageSize: IMG_SIZE, validationSplit: 0.2, subset: 'training', seed: 42 })).prefetch();
  const validationDataset = await imageDatasetFromDirectory(dir, { shuffle: true, batchSize, imageSize: IMG_SIZE, validationSplit: 0.2, subset: 'validation', seed: 42 });
  console.log(`classes: ${trainDataset.classNames.join(', ')}`);

  const base = await MobileNetV2.pretrained({ inputShape: [size, size, 3], includeTop: false, weights: args.weights });
  base.trainable = false;
  console.log(`base: ${base.name}, ${base.layers.length} layers`);

  const model = sequential([
    layers.input({ shape: [size, size, 3] }),
    layers.randomFlip('horizontal'),
    layers.randomRotation(0.2),
    layers.preprocessInput(),
    base, // training: false (BatchNorm in inference mode)
    layers.globalAveragePooling2d(),
    layers.dropout(0.2),
    layers.dense(1),
  ]);
  console.log(model.summary());

  model.compile({ optimizer: adam({ learningRate: baseLearningRate }), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const history = await model.fit(trainDataset, { epochs: initialEpochs, validationData: validationDataset });

  // Fine-tuning: unfreeze the top of the base, from layer 120.
  base.trainable = true;
  console.log(`Number of layers in the base model: ${base.layers.length}`);
  const fineTuneAt = 120;
  for (const layer of base.layers.slice(0, fineTuneAt)) layer.trainable = false;
  model.compile({ optimizer: adam({ learningRate: 0.1 * baseLearningRate }), loss: losses.binaryCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  console.log(`trainable parameters after unfreezing from layer ${fineTuneAt}: ${model.countParams().trainable.toLocaleString('en-US')}`);
  const historyFine = await model.fit(trainDataset, { epochs: initialEpochs + fineTuneEpochs, initialEpoch: history.epoch.length, validationData: validationDataset });

  const curves = concatCurves(history.history, historyFine.history);
  writeCurvesSvg(join(args.out, 'curves.svg'), curves, { title: `alpaca: MobileNetV2 ${size}x${size}, fine-tune from layer ${fineTuneAt}`, fineTuneAt: history.epoch.length });
  writeJson(args.out, 'history.json', curves);

  const modelPath = join(args.out, 'model.safetensors');
  await model.save(modelPath);
  const final = await model.evaluate(validationDataset);
  const reloaded = await loadModel(modelPath);
  const again = await reloaded.evaluate(validationDataset);
  console.log(`validation: loss ${fmt(final.loss)}, accuracy ${fmt(final.accuracy)} (${final.samples} images); reloaded from ${modelPath}: accuracy ${fmt(again.accuracy)}`);

  const seconds = [...(history.history.seconds ?? []), ...(historyFine.history.seconds ?? [])];
  writeJson(args.out, 'result.json', {
    example: 'alpaca',
    small,
    adapter: describeAdapter(adapter),
    imageSize: size,
    trainImages: trainDataset.size,
    validationImages: validationDataset.size,
    valAccuracy: curves.val_accuracy,
    finalValAccuracy: final.accuracy,
    reloadedValAccuracy: again.accuracy,
    secondsPerEpoch: seconds,
  });
  console.log(`wrote ${join(args.out, 'curves.svg')} (validation accuracy per epoch: ${(curves.val_accuracy ?? []).map((v) => v.toFixed(3)).join(' ')})`);
  reloaded.dispose();
  model.dispose();
  trainDataset.dispose();
  validationDataset.dispose();
  engine.destroy();
}

runMain(main);
