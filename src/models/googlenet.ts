// The seed entry's CIFAR GoogLeNet: 6,258,500 parameters, every conv and the classifier masked.
import { shown } from '../text.js';
import { classesProblems, refuseProblems } from './config.js';
import * as T from '../torch/index.js';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  chain,
  Dropout2d,
  MaskedConv2d,
  MaskedLinear,
  MaxPool2d,
  Module,
  ReLU,
  Sequential,
  type InitOptions,
} from '../nn/index.js';

/** What varies between GoogLeNet builds. */
export interface GoogLeNetConfig {
  /** Outputs of the classifier (100 for CIFAR-100). */
  numClasses: number;
  /** The entry built BatchNorm b3.4 of every inception with eps = n5x5; false uses 1e-5. */
  epsQuirk: boolean;
  /** Dropout2d probability before the classifier. */
  dropout: number;
  /** Channel-width multiplier (1: the entry); narrower nets keep the same names and structure. */
  width: number;
}

/** The entry's configuration: 100 classes, its eps quirk, dropout 0.4, full width. */
export const defaultGoogLeNetConfig: GoogLeNetConfig = { numClasses: 100, epsQuirk: true, dropout: 0.4, width: 1 };

/** What is wrong with a configuration (empty when nothing). Widths up to 4 (16x the parameters, about 400 MB): beyond that a configuration is a mistake or a hostile file. */
export function checkGoogLeNetConfig(c: GoogLeNetConfig): string[] {
  const problems: string[] = [];
  problems.push(...classesProblems(c.numClasses));
  if (!(c.width > 0 && c.width <= 4)) problems.push(`width must be in (0, 4], got ${shown(c.width)}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) problems.push(`dropout must be in [0, 1), got ${shown(c.dropout)}`);
  return problems;
}

class Inception extends Module {
  readonly b1: Sequential;
  readonly b2: Sequential;
  readonly b3: Sequential;
  readonly b4: Sequential;

  constructor(
    cin: number,
    n1x1: number,
    n3x3red: number,
    n3x3: number,
    n5x5red: number,
    n5x5: number,
    pool: number,
    epsQuirk: boolean,
    init: InitOptions,
  ) {
    super();
    const conv = (i: number, o: number, k: number) => new MaskedConv2d(i, o, k, { padding: k >> 1, ...init });
    this.b1 = this.registerModule('b1', new Sequential(conv(cin, n1x1, 1), new BatchNorm2d(n1x1), new ReLU()));
    this.b2 = this.registerModule(
      'b2',
      new Sequential(
        conv(cin, n3x3red, 1),
        new BatchNorm2d(n3x3red),
        new ReLU(),
        conv(n3x3red, n3x3, 3),
        new BatchNorm2d(n3x3),
        new ReLU(),
      ),
    );
    this.b3 = this.registerModule(
      'b3',
      new Sequential(
        conv(cin, n5x5red, 1),
        new BatchNorm2d(n5x5red),
        new ReLU(),
        conv(n5x5red, n5x5, 3),
        new BatchNorm2d(n5x5, epsQuirk ? n5x5 : 1e-5),
        new ReLU(),
        conv(n5x5, n5x5, 3),
        new BatchNorm2d(n5x5),
        new ReLU(),
      ),
    );
    this.b4 = this.registerModule(
      'b4',
      new Sequential(new MaxPool2d(3, 1, 1), conv(cin, pool, 1), new BatchNorm2d(pool), new ReLU()),
    );
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    const branches = [this.b1, this.b2, this.b3, this.b4].map((b) => b.forward(x, training));
    const out = T.cat(branches, 1);
    branches.forEach((b) => b.dispose());
    return out;
  }
}

/** GoogLeNet for 32x32 inputs: a 3x3 stem, nine inception blocks (a3..b5) with two max-pools, global average pooling, dropout, a linear classifier. */
export class GoogLeNet extends Module {
  /** The stem: a 3x3 conv to 192 channels (times width), BatchNorm, ReLU. */
  readonly prelayer: Sequential;
  /** The inception blocks a3, b3, a4..e4, a5, b5, in order. */
  readonly inceptions: Inception[];
  /** The 3x3 stride-2 max-pool used after b3 and after e4. */
  readonly maxpool: MaxPool2d;
  /** Global average pooling. */
  readonly avgpool: AdaptiveAvgPool2d;
  /** Dropout before the classifier. */
  readonly dropout: Dropout2d;
  /** The classifier. */
  readonly linear: MaskedLinear;

  constructor(
    readonly config: GoogLeNetConfig = defaultGoogLeNetConfig,
    init: InitOptions = {},
  ) {
    super();
    const q = config.epsQuirk;
    refuseProblems('googlenet', checkGoogLeNetConfig(config));
    const c = (n: number) => Math.max(1, Math.round(n * config.width));
    let channels = c(192);
    // Widths as (in, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool); `in` is the previous output, checked.
    const inception = (name: string, ...w: [number, number, number, number, number, number, number]) => {
      const [cin, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool] = w.map(c) as typeof w;
      if (config.width === 1 && cin !== channels)
        throw new Error(`googlenet: ${name} expects ${cin} input channels, gets ${channels}`);
      const m = this.registerModule(name, new Inception(channels, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool, q, init));
      channels = n1x1 + n3x3 + n5x5 + pool;
      return m;
    };
    this.prelayer = this.registerModule(
      'prelayer',
      new Sequential(new MaskedConv2d(3, channels, 3, { padding: 1, ...init }), new BatchNorm2d(channels), new ReLU()),
    );
    const a3 = inception('a3', 192, 64, 96, 128, 16, 32, 32);
    const b3 = inception('b3', 256, 128, 128, 192, 32, 96, 64);
    this.maxpool = this.registerModule('maxpool', new MaxPool2d(3, 2, 1));
    const a4 = inception('a4', 480, 192, 96, 208, 16, 48, 64);
    const b4 = inception('b4', 512, 160, 112, 224, 24, 64, 64);
    const c4 = inception('c4', 512, 128, 128, 256, 24, 64, 64);
    const d4 = inception('d4', 512, 112, 144, 288, 32, 64, 64);
    const e4 = inception('e4', 528, 256, 160, 320, 32, 128, 128);
    const a5 = inception('a5', 832, 256, 160, 320, 32, 128, 128);
    const b5 = inception('b5', 832, 384, 192, 384, 48, 128, 128);
    this.inceptions = [a3, b3, a4, b4, c4, d4, e4, a5, b5];
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.dropout = this.registerModule('dropout', new Dropout2d(config.dropout));
    this.linear = this.registerModule('linear', new MaskedLinear(channels, config.numClasses, init));
  }

  /** Class logits for an NCHW batch. */
  forward(x: T.Tensor, training: boolean): T.Tensor {
    const [a3, b3, a4, b4, c4, d4, e4, a5, b5] = this.inceptions;
    const features = chain(x, training, [
      this.prelayer,
      a3!,
      b3!,
      this.maxpool,
      a4!,
      b4!,
      c4!,
      d4!,
      e4!,
      this.maxpool,
      a5!,
      b5!,
      this.avgpool,
      this.dropout,
    ]);
    const flat = features.flatten(1);
    features.dispose();
    const logits = this.linear.forward(flat, training);
    flat.dispose();
    return logits;
  }
}
