// A small masked conv net for recipe tests: two masked convs with BatchNorm, pooling and a
// masked classifier; test/support/recipe_oracle.py builds the same network in PyTorch.
import type * as T from '../../src/torch/index.js';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  MaskedConv2d,
  MaskedLinear,
  MaxPool2d,
  Module,
  ReLU,
  chain,
} from '../../src/nn/index.js';

export class TinyNet extends Module {
  conv1: MaskedConv2d;
  bn1: BatchNorm2d;
  relu1: ReLU;
  pool: MaxPool2d;
  conv2: MaskedConv2d;
  bn2: BatchNorm2d;
  relu2: ReLU;
  gap: AdaptiveAvgPool2d;
  fc: MaskedLinear;

  constructor(generator: T.Generator, classes = 10) {
    super();
    this.conv1 = this.registerModule('conv1', new MaskedConv2d(3, 8, 3, { padding: 1, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(8));
    this.relu1 = this.registerModule('relu1', new ReLU());
    this.pool = this.registerModule('pool', new MaxPool2d(2));
    this.conv2 = this.registerModule('conv2', new MaskedConv2d(8, 16, 3, { padding: 1, generator }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(16));
    this.relu2 = this.registerModule('relu2', new ReLU());
    this.gap = this.registerModule('gap', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new MaskedLinear(16, classes, { generator }));
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    const h = chain(x, training, [
      this.conv1,
      this.bn1,
      this.relu1,
      this.pool,
      this.conv2,
      this.bn2,
      this.relu2,
      this.gap,
    ]);
    const flat = h.flatten(1);
    h.dispose();
    return this.fc.forward(flat, training);
  }
}
