// Stochastic gradient descent with PyTorch's exact semantics (torch.optim.SGD):
//   d = grad + weightDecay * p
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d
//   d = d + momentum * buf (Nesterov) or buf
//   p = p - lr * d
// Parameters without a gradient are skipped and get no momentum state.
import * as T from '../torch/index.js';

/** torch.optim.SGD's hyperparameters, the learning rate aside (each step gets its own). */
export interface SgdOptions {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** torch.optim.SGD over named parameters: momentum buffers are kept by name, so that checkpoints can save and restore them. */
export class SGD {
  readonly #momentum = new Map<string, T.Tensor>();
  #params: readonly [string, T.Tensor][];

  /**
   * `foreach` (torch.optim.SGD's option of that name): the update as multi-tensor operations,
   * the same arithmetic in a few launches; by default on CUDA only, as PyTorch does.
   */
  constructor(params: readonly [string, T.Tensor][], readonly options: SgdOptions, private readonly foreach?: boolean) {
    if (options.nesterov && (options.momentum <= 0 || options.dampening !== 0)) throw new Error('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
    this.#params = params;
  }

  /** The parameters it updates, by name. */
  get params(): readonly [string, T.Tensor][] { return this.#params; }

  /** A fresh optimizer over other parameters (a model whose structure changed): momentum forgotten. */
  restart(params: readonly [string, T.Tensor][]): void {
    this.reset();
    this.#params = params;
  }

  /**
   * One update of every parameter that has a gradient, at learning rate lr: a number, or a 0-dim
   * tensor on the parameters' device (a captured CUDA step reads the rate from there, so that it
   * can change without a new capture).
   */
  step(lr: number | T.Tensor): void {
    T.noGrad(() => T.tidy(() => {
      const withGrad = this.params.flatMap(([name, p]) => {
        const grad = p.grad;
        return grad ? [{ name, p, grad }] : [];
      });
      if (withGrad.length && (this.foreach ?? withGrad[0]!.p.device !== 'cpu')) this.#stepForeach(withGrad, lr);
      else for (const { name, p, grad } of withGrad) this.#stepOne(name, p, grad, lr);
    }));
  }

  #stepOne(name: string, p: T.Tensor, grad: T.Tensor, lr: number | T.Tensor): void {
    const { momentum, dampening, weightDecay, nesterov } = this.options;
    T.tidy(() => {
      let d = weightDecay !== 0 ? grad.add(p, weightDecay) : grad;
      if (momentum !== 0) {
        let buf = this.#momentum.get(name);
        if (!buf) {
          buf = T.keep(d.clone());
          this.#momentum.set(name, buf);
        } else {
          buf.mul_(momentum).add_(d, 1 - dampening);
        }
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
    let d = weightDecay !== 0 ? T.foreachAdd(items.map((i) => i.grad), params, weightDecay) : items.map((i) => i.grad);
    if (momentum !== 0) {
      const held = items.flatMap((item, k) => (this.#momentum.has(item.name) ? [k] : []));
      const bufs = held.map((k) => this.#momentum.get(items[k]!.name)!);
      T.foreachMul_(bufs, momentum);
      T.foreachAdd_(bufs, held.map((k) => d[k]!), 1 - dampening);
      // A parameter's first step (or the first after a reset): its buffer starts as d.
      items.forEach((item, k) => { if (!this.#momentum.has(item.name)) this.#momentum.set(item.name, T.keep(d[k]!.clone())); });
      const all = items.map((i) => this.#momentum.get(i.name)!);
      d = nesterov ? T.foreachAdd(d, all, momentum) : all;
    }
    if (typeof lr === 'number') T.foreachAdd_(params, d, -lr);
    else T.foreachAdd_(params, T.foreachMul(d, lr), -1);
  }

  /** Clears every parameter's gradient (set to null, as set_to_none). */
  zeroGrad(): void {
    for (const [, p] of this.params) p.grad = null;
  }

  /** Momentum buffers by parameter name (what a checkpoint saves). */
  momentumBuffers(): Map<string, T.Tensor> {
    return this.#momentum;
  }

  /** Restores momentum buffers, placed on each parameter's device. */
  loadMomentum(buffers: Map<string, T.Tensor>): void {
    this.reset();
    const params = new Map(this.params);
    for (const [name, buf] of buffers) {
      const p = params.get(name);
      if (!p) throw new Error(`momentum for unknown parameter '${name}'`);
      if (!T.sameShape(p.shape, buf.shape)) throw new Error(`momentum for '${name}' has shape [${buf.shape}], the parameter [${p.shape}]`);
      this.#momentum.set(name, T.keep(buf.to({ device: p.device, copy: true })));
    }
  }

  /** A fresh optimizer: momentum forgotten. */
  reset(): void {
    for (const buf of this.#momentum.values()) buf.dispose();
    this.#momentum.clear();
  }
}
