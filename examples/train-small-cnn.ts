// A small CNN of your own, trained on CIFAR-100 with micronet's loader and SGD, evaluated after
// every epoch. Usage: node dist/examples/train-small-cnn.js DATA_DIR [EPOCHS]
import * as T from 'micronet/torch';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential } from 'micronet/nn';
import { Loader, loadDataset } from 'micronet/data';
import { evaluate } from 'micronet/train';
import { SGD } from 'micronet/optim';

class SmallCnn extends Module {
  readonly features = this.registerModule(
    'features',
    new Sequential(
      new Conv2d(3, 16, 3, { padding: 1 }),
      new BatchNorm2d(16),
      new ReLU(),
      new MaxPool2d(2),
      new Conv2d(16, 32, 3, { padding: 1 }),
      new BatchNorm2d(32),
      new ReLU(),
      new AdaptiveAvgPool2d(1),
    ),
  );
  readonly classifier = this.registerModule('classifier', new Linear(32, 100));

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => this.classifier.forward(this.features.forward(x, training).flatten(1), training));
  }
}

const [dataDir, epochsArg = '2'] = process.argv.slice(2);
if (!dataDir) {
  console.error('usage: train-small-cnn DATA_DIR [EPOCHS]');
  process.exit(2);
}
T.manualSeed(0);
const { train, test } = loadDataset(dataDir);
using model = new SmallCnn();
const optimizer = new SGD(model.namedParameters(), { momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true });
const trainLoader = new Loader({ data: train, pipeline: 'micronet-seed/train', batchSize: 64, seed: 0, shuffle: true });
const testLoader = new Loader({ data: test, pipeline: 'micronet-seed/test', batchSize: 256 });

for (let epoch = 1; epoch <= Number(epochsArg); epoch++) {
  let lossSum = 0;
  let seen = 0;
  for await (const { x, y, size } of trainLoader.epoch(epoch)) {
    using _x = x; // the batch is freed at the end of the step
    using _y = y;
    lossSum +=
      size *
      T.tidy(() => {
        const loss = T.F.crossEntropy(model.forward(x, true), y);
        loss.backward();
        optimizer.step(0.05);
        optimizer.zeroGrad();
        return loss.item();
      });
    seen += size;
  }
  const r = await evaluate(model, testLoader.epoch(epoch));
  console.log(
    `epoch ${epoch}: train loss ${(lossSum / seen).toFixed(4)}, test top-1 ${(100 * r.top1).toFixed(2)}% of ${r.count}`,
  );
}
await trainLoader.close();
await testLoader.close();
