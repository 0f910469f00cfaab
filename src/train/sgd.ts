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

  constructor(params: readonly [string, T.Tensor][], readonly options: SgdOptions) {
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

  /** One update of every parameter that has a gradient, at learning rate lr. */
  step(lr: number): void {
    const { momentum, dampening, weightDecay, nesterov } = this.options;
    T.noGrad(() => {
      for (const [name, p] of this.params) {
        T.tidy(() => {
          const grad = p.grad;
          if (grad === null) return;
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
          p.sub_(d, lr);
        });
      }
    });
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
