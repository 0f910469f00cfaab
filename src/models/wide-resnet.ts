// WideResNet (Zagoruyko & Komodakis 2016) for CIFAR: the MicroNet Challenge's reference network
// at depth 28, widen factor 10 (36.5M parameters). Pre-activation basic blocks, 1x1 projection
// shortcuts where the width or stride changes, the state_dict keys of xternalz/WideResNet-pytorch.
import { shown } from '../text.js';
import { classesProblems, refuseProblems } from './config.js';
import * as T from '../torch/index.js';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  MaskedConv2d,
  MaskedLinear,
  Module,
  ReLU,
  Sequential,
  type InitOptions,
  type Linear,
} from '../nn/index.js';

/** What varies between WideResNet builds. */
export interface WideResNetConfig {
  numClasses: number;
  /** Layers: 6n + 4 (28: four blocks a stage). */
  depth: number;
  /** Widen factor k: stage widths 16k, 32k, 64k (10: the reference network; 1 for smoke-sized runs). */
  width: number;
  /** Dropout between each block's two convolutions (0 in the reference figures). */
  dropout: number;
}

export const defaultWideResNetConfig: WideResNetConfig = { numClasses: 100, depth: 28, width: 10, dropout: 0 };

export function checkWideResNetConfig(c: WideResNetConfig): string[] {
  const problems: string[] = [];
  problems.push(...classesProblems(c.numClasses));
  if (!Number.isInteger(c.depth) || c.depth < 10 || c.depth > 100 || (c.depth - 4) % 6)
    problems.push(`depth must be 6n+4 in 10..100, got ${shown(c.depth)}`);
  if (!Number.isInteger(c.width) || c.width < 1 || c.width > 16)
    problems.push(`width must be an integer in 1..16, got ${shown(c.width)}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) problems.push(`dropout must be in [0, 1), got ${shown(c.dropout)}`);
  return problems;
}

/** A pre-activation basic block: BN-ReLU-conv3x3, BN-ReLU-conv3x3, plus the input (projected when the shape changes). */
class BasicBlock extends Module {
  readonly relu1 = new ReLU();
  readonly conv1: Conv2d;
  readonly relu2 = new ReLU();
  readonly conv2: Conv2d;
  readonly convShortcut: Conv2d | null;

  constructor(
    cin: number,
    cout: number,
    stride: number,
    readonly dropout: number,
    init: InitOptions,
  ) {
    super();
    const conv = (i: number, o: number, k: number, s: number) =>
      new MaskedConv2d(i, o, k, { stride: s, padding: k >> 1, bias: false, ...init });
    this.registerModule('bn1', new BatchNorm2d(cin));
    this.registerModule('relu1', this.relu1);
    this.conv1 = this.registerModule('conv1', conv(cin, cout, 3, stride));
    this.registerModule('bn2', new BatchNorm2d(cout));
    this.registerModule('relu2', this.relu2);
    this.conv2 = this.registerModule('conv2', conv(cout, cout, 3, 1));
    this.convShortcut = cin === cout ? null : this.registerModule('convShortcut', conv(cin, cout, 1, stride));
  }

  // The BatchNorms are read by name: folding may put an Identity in place of one.
  get bn1(): Module {
    return this.child('bn1');
  }
  get bn2(): Module {
    return this.child('bn2');
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => {
      const a = this.relu1.forward(this.bn1.forward(x, training));
      // The projection reads the activated input; an identity shortcut the raw one (as the reference does).
      const shortcut = this.convShortcut ? this.convShortcut.forward(a, training) : x;
      let h = this.conv1.forward(a, training);
      if (this.dropout > 0) h = T.F.dropout(h, this.dropout, training);
      return shortcut.add(this.conv2.forward(this.relu2.forward(this.bn2.forward(h, training)), training));
    });
  }
}

/** One stage: its blocks as `layer` (the reference's NetworkBlock). */
class NetworkBlock extends Module {
  readonly layer: Sequential;

  constructor(blocks: BasicBlock[]) {
    super();
    this.layer = this.registerModule('layer', new Sequential(...blocks));
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return this.layer.forward(x, training);
  }
}

/** WideResNet-depth-width: a 3x3 stem, three stages of (depth-4)/6 blocks, BN-ReLU, global average pooling, a linear classifier. */
export class WideResNet extends Module {
  readonly conv1: Conv2d;
  readonly blocks: NetworkBlock[];
  readonly bn1: BatchNorm2d;
  readonly relu = new ReLU();
  readonly avgpool = new AdaptiveAvgPool2d(1);
  readonly fc: Linear;

  constructor(
    readonly config: WideResNetConfig = defaultWideResNetConfig,
    init: InitOptions = {},
  ) {
    super();
    refuseProblems('wrn', checkWideResNetConfig(config));
    const n = (config.depth - 4) / 6;
    const widths = [16, 16 * config.width, 32 * config.width, 64 * config.width];
    this.conv1 = this.registerModule('conv1', new MaskedConv2d(3, 16, 3, { padding: 1, bias: false, ...init }));
    this.blocks = [1, 2, 3].map((stage) => {
      const [cin, cout] = [widths[stage - 1]!, widths[stage]!];
      const stride = stage === 1 ? 1 : 2;
      const blocks = Array.from({ length: n }, (_, i) =>
        i
          ? new BasicBlock(cout, cout, 1, config.dropout, init)
          : new BasicBlock(cin, cout, stride, config.dropout, init),
      );
      return this.registerModule(`block${stage}`, new NetworkBlock(blocks));
    });
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(widths[3]!));
    this.registerModule('relu', this.relu);
    this.registerModule('avgpool', this.avgpool);
    this.fc = this.registerModule('fc', new MaskedLinear(widths[3]!, config.numClasses, init));
    // The reference's initialisation: conv weights N(0, 2/(k*k*out)), the classifier's bias 0.
    T.noGrad(() => {
      for (const [, m] of this.namedModules()) {
        if (m instanceof Conv2d)
          m.weight.normal_(0, Math.sqrt(2 / (m.kernelSize ** 2 * m.outChannels)), init.generator ?? null);
      }
      this.fc.bias!.zero_();
    });
  }

  /** Class logits for an NCHW batch. */
  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => {
      let h = this.conv1.forward(x, training);
      for (const b of this.blocks) h = b.forward(h, training);
      h = this.avgpool.forward(this.relu.forward(this.bn1.forward(h, training)));
      return this.fc.forward(h.flatten(1), training);
    });
  }
}
