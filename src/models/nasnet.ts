// NASNet-A for CIFAR (Zoph et al. 2018), the third baseline the seed entry weighed, as "6@768":
// N = 6 normal cells a stage, three stages with a reduction cell between, 768 channels before
// the classifier (6 branches x 128 filters in the last stage). The cells, their branches and the
// state_dict keys are those of weiaicunzai/pytorch-cifar100's nasnet.py. Choices the paper
// leaves open, as that implementation makes them (docs/SPEC.md §9): a 3x3 stem of `filters`
// channels with no ReLU, each stage's first cell taking the stem (or the previous stage) as its
// "previous" input through a factorised reduction, no auxiliary head, no drop-path.
import { shown } from '../text.js';
import { classesProblems, refuseProblems } from './config.js';
import * as T from '../torch/index.js';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  ConstantPad2d,
  MaskedConv2d,
  MaskedLinear,
  MaxPool2d,
  Module,
  ReLU,
  Sequential,
  type InitOptions,
  type Linear,
} from '../nn/index.js';

/** What varies between NASNet builds. */
export interface NasNetConfig {
  numClasses: number;
  /** Normal cells a stage (the N of N@F). */
  cells: number;
  /** Filter multiplier: 32 x width filters in the first stage (1: 6@768; 0.25 for smoke-sized runs). */
  width: number;
}

export const defaultNasNetConfig: NasNetConfig = { numClasses: 100, cells: 6, width: 1 };

export function checkNasNetConfig(c: NasNetConfig): string[] {
  const problems: string[] = [];
  problems.push(...classesProblems(c.numClasses));
  if (!Number.isInteger(c.cells) || c.cells < 1 || c.cells > 12)
    problems.push(`cells must be an integer in 1..12, got ${shown(c.cells)}`);
  if (!(c.width >= 1 / 16 && c.width <= 4)) problems.push(`width must be in [1/16, 4], got ${shown(c.width)}`);
  return problems;
}

type Conv = (
  cin: number,
  cout: number,
  k: number,
  o?: { stride?: number; padding?: number; bias?: boolean; groups?: number },
) => MaskedConv2d;

/** A depthwise k x k convolution, then a pointwise 1x1 one (with a bias). */
class SeparableConv2d extends Module {
  readonly depthwise: MaskedConv2d;
  readonly pointwise: MaskedConv2d;

  constructor(
    cin: number,
    cout: number,
    k: number,
    o: { stride?: number; padding?: number; bias?: boolean },
    conv: Conv,
  ) {
    super();
    // The depthwise convolution has a bias unless told otherwise, the pointwise one always (as nn.Conv2d's default).
    this.depthwise = this.registerModule('depthwise', conv(cin, cin, k, { ...o, bias: o.bias ?? true, groups: cin }));
    this.pointwise = this.registerModule('pointwise', conv(cin, cout, 1, { bias: true }));
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => this.pointwise.forward(this.depthwise.forward(x, training), training));
  }
}

/** Two rounds of ReLU, separable convolution, BatchNorm; the first takes the stride. */
class SeparableBranch extends Module {
  readonly block1: Sequential;
  readonly block2: Sequential;

  constructor(c: number, k: number, o: { stride?: number; padding?: number; bias?: boolean }, conv: Conv) {
    super();
    const round = (opts: typeof o) =>
      new Sequential(new ReLU(), new SeparableConv2d(c, c, k, opts, conv), new BatchNorm2d(c));
    this.block1 = this.registerModule('block1', round(o));
    this.block2 = this.registerModule('block2', round({ stride: 1, padding: k >> 1 }));
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => this.block2.forward(this.block1.forward(x, training), training));
  }
}

/** Brings the previous cell's output to this cell's resolution and width (the factorised reduction). */
class Fit extends Module {
  readonly relu = new ReLU();
  readonly p1: Sequential;
  readonly p2: Sequential;
  readonly bn: BatchNorm2d;
  readonly dim_reduce: Sequential;

  constructor(
    prev: number,
    readonly filters: number,
    conv: Conv,
  ) {
    super();
    const half = Math.floor(filters / 2);
    this.registerModule('relu', this.relu);
    this.p1 = this.registerModule('p1', new Sequential(new AvgPool2d(1, 2), conv(prev, half, 1, { bias: true })));
    // Shifted by one pixel (pad right and bottom, crop left and top) so that p2 sees the other pixels.
    this.p2 = this.registerModule(
      'p2',
      new Sequential(
        new ConstantPad2d([0, 1, 0, 1]),
        new ConstantPad2d([-1, 0, -1, 0]),
        new AvgPool2d(1, 2),
        conv(prev, half, 1, { bias: true }),
      ),
    );
    this.bn = this.registerModule('bn', new BatchNorm2d(filters));
    this.dim_reduce = this.registerModule(
      'dim_reduce',
      new Sequential(new ReLU(), conv(prev, filters, 1, { bias: true }), new BatchNorm2d(filters)),
    );
  }

  fit(x: T.Tensor, prev: T.Tensor | null, training: boolean): T.Tensor {
    if (!prev) return x;
    return T.tidy(() => {
      if (x.size(2) !== prev.size(2)) {
        const r = this.relu.forward(prev);
        return this.bn.forward(T.cat([this.p1.forward(r, training), this.p2.forward(r, training)], 1), training);
      }
      return prev.size(1) !== this.filters ? this.dim_reduce.forward(prev, training) : prev;
    });
  }

  forward(): T.Tensor {
    throw new Error('Fit takes two inputs: call fit(x, prev, training)');
  }
}

/** A cell: two inputs (this one's and the previous cell's), one output. */
abstract class Cell extends Module {
  abstract cell(x: T.Tensor, prev: T.Tensor | null, training: boolean): T.Tensor;
  forward(): T.Tensor {
    throw new Error('a NASNet cell takes two inputs: call cell(x, prev, training)');
  }
}

class NormalCell extends Cell {
  readonly branches: [Module, Module][];
  readonly fitted: Fit;
  readonly reduce: Sequential;

  constructor(xIn: number, prevIn: number, c: number, conv: Conv) {
    super();
    this.reduce = this.registerModule('dem_reduce', new Sequential(new ReLU(), conv(xIn, c, 1), new BatchNorm2d(c)));
    const sep = (k: number) => new SeparableBranch(c, k, { padding: k >> 1, bias: false }, conv);
    const pool = () => new AvgPool2d(3, 1, 1);
    const pairs: [Module, Module][] = [
      [sep(3), new Sequential()],
      [sep(3), sep(5)],
      [pool(), new Sequential()],
      [pool(), pool()],
      [sep(5), sep(3)],
    ];
    this.branches = pairs.map(([l, r], i) => [
      this.registerModule(`block${i + 1}_left`, l),
      this.registerModule(`block${i + 1}_right`, r),
    ]);
    this.fitted = this.registerModule('fit', new Fit(prevIn, c, conv));
  }

  cell(x: T.Tensor, prevIn: T.Tensor | null, training: boolean): T.Tensor {
    return T.tidy(() => {
      const prev = this.fitted.fit(x, prevIn, training);
      const h = this.reduce.forward(x, training);
      // Which input each branch reads (the reference's forward): h or prev, left and right.
      const inputs = [
        [h, h],
        [prev, h],
        [h, h],
        [prev, prev],
        [prev, prev],
      ];
      const sums = this.branches.map(([l, r], i) =>
        l.forward(inputs[i]![0]!, training).add(r.forward(inputs[i]![1]!, training)),
      );
      return T.cat([prev, ...sums], 1);
    });
  }
}

class ReductionCell extends Cell {
  readonly fitted: Fit;
  readonly reduce: Sequential;
  readonly m: Record<string, Module>;

  constructor(xIn: number, prevIn: number, c: number, conv: Conv) {
    super();
    this.reduce = this.registerModule(
      'dim_reduce',
      new Sequential(new ReLU(), conv(xIn, c, 1, { bias: true }), new BatchNorm2d(c)),
    );
    const sep = (k: number, stride: number) => new SeparableBranch(c, k, { stride, padding: k >> 1 }, conv);
    const layers: [string, Module][] = [
      ['layer1block1_left', sep(7, 2)],
      ['layer1block1_right', sep(5, 2)],
      ['layer1block2_left', new MaxPool2d(3, 2, 1)],
      ['layer1block2_right', sep(7, 2)],
      ['layer1block3_left', new AvgPool2d(3, 2, 1)],
      ['layer1block3_right', sep(5, 2)],
      ['layer2block1_left', new MaxPool2d(3, 2, 1)],
      ['layer2block1_right', sep(3, 1)],
      ['layer2block2_left', new AvgPool2d(3, 1, 1)],
      ['layer2block2_right', new Sequential()],
    ];
    this.m = Object.fromEntries(layers.map(([n, l]) => [n, this.registerModule(n, l)]));
    this.fitted = this.registerModule('fit', new Fit(prevIn, c, conv));
  }

  cell(x: T.Tensor, prevIn: T.Tensor | null, training: boolean): T.Tensor {
    return T.tidy(() => {
      const prev = this.fitted.fit(x, prevIn, training);
      const h = this.reduce.forward(x, training);
      const sum = (l: string, a: T.Tensor, r: string, b: T.Tensor) =>
        this.m[l]!.forward(a, training).add(this.m[r]!.forward(b, training));
      const l1b1 = sum('layer1block1_left', prev, 'layer1block1_right', h);
      const l1b2 = sum('layer1block2_left', h, 'layer1block2_right', prev);
      const l1b3 = sum('layer1block3_left', h, 'layer1block3_right', prev);
      const l2b1 = sum('layer2block1_left', h, 'layer2block1_right', l1b1);
      const l2b2 = sum('layer2block2_left', l1b1, 'layer2block2_right', l1b2);
      return T.cat([l1b2, l1b3, l2b1, l2b2], 1);
    });
  }
}

/** NASNet-A N@F: a 3x3 stem, N normal cells, a reduction, N normal, a reduction, N normal, ReLU, global average pooling, a linear classifier. */
export class NasNet extends Module {
  readonly stem: Sequential;
  readonly cell_layers: Sequential;
  readonly relu = new ReLU();
  readonly avg = new AdaptiveAvgPool2d(1);
  readonly fc: Linear;

  constructor(
    readonly config: NasNetConfig = defaultNasNetConfig,
    init: InitOptions = {},
  ) {
    super();
    refuseProblems('nasnet', checkNasNetConfig(config));
    const conv: Conv = (cin, cout, k, o = {}) => new MaskedConv2d(cin, cout, k, { bias: false, ...o, ...init });
    let filters = Math.max(2, 2 * Math.round(16 * config.width));
    // The first cell's "previous" input is the stem itself, so the stem has the first stage's width.
    this.stem = this.registerModule(
      'stem',
      new Sequential(conv(3, filters, 3, { padding: 1 }), new BatchNorm2d(filters)),
    );
    let [xIn, prevIn] = [filters, filters];
    const cells: Cell[] = [];
    const add = (cell: Cell, out: number) => {
      cells.push(cell);
      [prevIn, xIn] = [xIn, out];
    };
    for (let stage = 0; stage < 3; stage++) {
      if (stage) {
        filters *= 2;
        add(new ReductionCell(xIn, prevIn, filters, conv), 4 * filters);
      }
      for (let i = 0; i < config.cells; i++) add(new NormalCell(xIn, prevIn, filters, conv), 6 * filters);
    }
    this.cell_layers = this.registerModule('cell_layers', new Sequential(...cells));
    this.registerModule('relu', this.relu);
    this.registerModule('avg', this.avg);
    this.fc = this.registerModule('fc', new MaskedLinear(xIn, config.numClasses, init));
  }

  /** Class logits for an NCHW batch. */
  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => {
      let h = this.stem.forward(x, training);
      let prev: T.Tensor | null = null;
      for (const cell of this.cell_layers.layers as Cell[]) [h, prev] = [cell.cell(h, prev, training), h];
      return this.fc.forward(this.avg.forward(this.relu.forward(h)).flatten(1), training);
    });
  }
}
