// DenseNet-BC-121 for CIFAR (Huang et al. 2017), one of the baselines the seed entry weighed:
// growth 32, blocks of 6/12/24/16 bottleneck layers, a 3x3 stem of 2 x growth channels,
// compression 0.5, with the state_dict keys of weiaicunzai/pytorch-cifar100's densenet.py
// (7,048,548 parameters at 100 classes).
import { shown } from '../text.js';
import { classesProblems, refuseProblems } from './config.js';
import * as T from '../torch/index.js';
import {
  AvgPool2d,
  BatchNorm2d,
  MaskedConv2d,
  MaskedLinear,
  Module,
  ReLU,
  Sequential,
  type InitOptions,
  type Linear,
} from '../nn/index.js';

/** What varies between DenseNet builds. */
export interface DenseNetConfig {
  numClasses: number;
  /** Growth-rate multiplier: growth = round(32 * width) (1: DenseNet-121; 0.125 for smoke-sized runs). */
  width: number;
}

export const defaultDenseNetConfig: DenseNetConfig = { numClasses: 100, width: 1 };

export function checkDenseNetConfig(c: DenseNetConfig): string[] {
  const problems: string[] = [];
  problems.push(...classesProblems(c.numClasses));
  if (!(c.width >= 1 / 32 && c.width <= 4)) problems.push(`width must be in [1/32, 4], got ${shown(c.width)}`);
  return problems;
}

const conv = (cin: number, cout: number, k: number, init: InitOptions) =>
  new MaskedConv2d(cin, cout, k, { padding: k >> 1, bias: false, ...init });

/** BN-ReLU-conv1x1 (4 x growth) -BN-ReLU-conv3x3 (growth); its output is its input with the new channels after it. */
class Bottleneck extends Module {
  readonly bottle_neck: Sequential;

  constructor(cin: number, growth: number, init: InitOptions) {
    super();
    this.bottle_neck = this.registerModule(
      'bottle_neck',
      new Sequential(
        new BatchNorm2d(cin),
        new ReLU(),
        conv(cin, 4 * growth, 1, init),
        new BatchNorm2d(4 * growth),
        new ReLU(),
        conv(4 * growth, growth, 3, init),
      ),
    );
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => T.cat([x, this.bottle_neck.forward(x, training)], 1));
  }
}

/** BN, conv1x1 to the compressed width, 2x2 average pooling. */
class Transition extends Module {
  readonly down_sample: Sequential;

  constructor(cin: number, cout: number, init: InitOptions) {
    super();
    this.down_sample = this.registerModule(
      'down_sample',
      new Sequential(new BatchNorm2d(cin), conv(cin, cout, 1, init), new AvgPool2d(2)),
    );
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return this.down_sample.forward(x, training);
  }
}

/** DenseNet-BC: a 3x3 stem, four dense blocks with transitions between, BN-ReLU, 4x4 average pooling, a linear classifier. */
export class DenseNet extends Module {
  readonly conv1: MaskedConv2d;
  readonly features: Sequential;
  readonly classifier: Sequential;
  readonly linear: Linear;

  constructor(
    readonly config: DenseNetConfig = defaultDenseNetConfig,
    init: InitOptions = {},
  ) {
    super();
    refuseProblems('densenet121', checkDenseNetConfig(config));
    const growth = Math.max(1, Math.round(32 * config.width));
    const blocks = [6, 12, 24, 16];
    let channels = 2 * growth;
    this.conv1 = this.registerModule('conv1', conv(3, channels, 3, init));
    const features: [string, Module][] = [];
    blocks.forEach((count, b) => {
      const layers: [string, Module][] = [];
      for (let i = 0; i < count; i++, channels += growth)
        layers.push([`bottle_neck_layer_${i}`, new Bottleneck(channels, growth, init)]);
      const last = b === blocks.length - 1;
      features.push([last ? `dense_block${b}` : `dense_block_layer_${b}`, new Sequential(...layers)]);
      if (!last) {
        const compressed = Math.floor(0.5 * channels);
        features.push([`transition_layer_${b}`, new Transition(channels, compressed, init)]);
        channels = compressed;
      }
    });
    features.push(['bn', new BatchNorm2d(channels)], ['relu', new ReLU()]);
    this.features = this.registerModule('features', new Sequential(...features));
    this.classifier = this.registerModule('classifier', new Sequential(new AvgPool2d(4)));
    this.linear = this.registerModule('linear', new MaskedLinear(channels, config.numClasses, init));
  }

  /** Class logits for an NCHW batch of 32x32 images. */
  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => {
      const h = this.classifier.forward(this.features.forward(this.conv1.forward(x, training), training), training);
      return this.linear.forward(h.flatten(1), training);
    });
  }
}
