// Stochastic gradient descent with PyTorch's exact semantics (torch.optim.SGD):
//   d = grad + weightDecay * p
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d
//   d = d + momentum * buf (Nesterov) or buf
//   p = p - lr * d
// Parameters without a gradient are skipped and get no momentum state.
import * as T from '../torch/index.js';
import type { NamedParameters } from './optimizer.js';
import { SlotOptimizer } from './slots.js';

/** torch.optim.SGD's hyperparameters, the learning rate aside (each step gets its own). */
export interface SgdConfig {
  name: 'sgd';
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** torch.optim.SGD's defaults. */
export const sgdDefaults: SgdConfig = { name: 'sgd', momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };

/** What is wrong with an SGD configuration (nothing: []). */
export function checkSgdConfig(c: SgdConfig): string[] {
  const problems: string[] = [];
  const inRange = (v: unknown, lo: number, hi: number) => typeof v === 'number' && v >= lo && v <= hi;
  if (!(inRange(c.momentum, 0, 1) && c.momentum < 1)) problems.push('momentum must be in [0, 1)');
  if (!inRange(c.weightDecay, 0, Infinity) || !Number.isFinite(c.weightDecay))
    problems.push('weightDecay must be >= 0');
  if (!inRange(c.dampening, 0, 1)) problems.push('dampening must be in [0, 1]');
  if (typeof c.nesterov !== 'boolean') problems.push('nesterov must be a boolean');
  else if (c.nesterov && !(c.momentum > 0 && c.dampening === 0))
    problems.push('Nesterov momentum needs momentum > 0 and dampening 0');
  return problems;
}

/** The slot of the momentum buffers (torch.optim.SGD's state key). */
export const MOMENTUM = 'momentum_buffer';

/** torch.optim.SGD over named parameters. */
export class SGD extends SlotOptimizer {
  readonly capturable = true;

  /**
   * `foreach` (torch.optim.SGD's option of that name): the update as multi-tensor operations,
   * the same arithmetic in a few launches; by default on CUDA only, as PyTorch does.
   */
  constructor(
    params: NamedParameters,
    readonly options: Omit<SgdConfig, 'name'>,
    private readonly foreach?: boolean,
  ) {
    super(params, [MOMENTUM], 'SGD');
    const problems = checkSgdConfig({ name: 'sgd', ...options });
    if (problems.length) throw new Error(`SGD: ${problems.join('; ')}`);
  }

  step(lr: number | T.Tensor): void {
    T.noGrad(() =>
      T.tidy(() => {
        const withGrad = this.params.flatMap(([name, p]) => {
          const grad = p.grad;
          return grad ? [{ name, p, grad }] : [];
        });
        if (withGrad.length && (this.foreach ?? withGrad[0]!.p.device !== 'cpu')) this.#stepForeach(withGrad, lr);
        else for (const { name, p, grad } of withGrad) this.#stepOne(name, p, grad, lr);
      }),
    );
  }

  #stepOne(name: string, p: T.Tensor, grad: T.Tensor, lr: number | T.Tensor): void {
    const { momentum, dampening, weightDecay, nesterov } = this.options;
    T.tidy(() => {
      let d = weightDecay !== 0 ? grad.add(p, weightDecay) : grad;
      if (momentum !== 0) {
        let buf = this.buffers.get(MOMENTUM, name);
        if (!buf) buf = this.buffers.set(MOMENTUM, name, d.clone());
        else buf.mul_(momentum).add_(d, 1 - dampening);
        d = nesterov ? d.add(buf, momentum) : buf;
      }
      if (typeof lr === 'number') p.sub_(d, lr);
      else p.sub_(d.mul(lr));
    });
  }

  // The same arithmetic as #stepOne, each line one operation over all parameters.
  #stepForeach(items: { name: string; p: T.Tensor; grad: T.Tensor }[], lr: number | T.Tensor): void {
    const { momentum, dampening, weightDecay, nesterov } = this.options;
    const params = items.map((i) => i.p);
    let d =
      weightDecay !== 0
        ? T.foreachAdd(
            items.map((i) => i.grad),
            params,
            weightDecay,
          )
        : items.map((i) => i.grad);
    if (momentum !== 0) {
      const held = items.flatMap((item, k) => (this.buffers.get(MOMENTUM, item.name) ? [k] : []));
      const bufs = held.map((k) => this.buffers.get(MOMENTUM, items[k]!.name)!);
      T.foreachMul_(bufs, momentum);
      T.foreachAdd_(
        bufs,
        held.map((k) => d[k]!),
        1 - dampening,
      );
      // A parameter's first step (or the first after a reset): its buffer starts as d.
      items.forEach((item, k) => {
        if (!this.buffers.get(MOMENTUM, item.name)) this.buffers.set(MOMENTUM, item.name, d[k]!.clone());
      });
      const all = items.map((i) => this.buffers.get(MOMENTUM, i.name)!);
      d = nesterov ? T.foreachAdd(d, all, momentum) : all;
    }
    if (typeof lr === 'number') T.foreachAdd_(params, d, -lr);
    else T.foreachAdd_(params, T.foreachMul(d, lr), -1);
  }

  loadState(saved: ReadonlyMap<string, T.Tensor>): void {
    this.buffers.load(saved, this.params, (_, p) => p.shape);
  }

  maskState(masks: ReadonlyMap<string, T.Tensor>): void {
    this.buffers.mask(masks, [MOMENTUM]);
  }
}
