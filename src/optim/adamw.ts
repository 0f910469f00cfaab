// AdamW with PyTorch's exact semantics (torch.optim.AdamW, its per-parameter CPU path):
//   t = t + 1
//   p = p * (1 - lr * weightDecay)                       decoupled weight decay
//   m = m + (1 - beta1) * (grad - m)                     (lerp)
//   v = beta2 * v + (1 - beta2) * grad^2
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Parameters without a gradient are skipped and get no state; each keeps its own step count t.
import * as T from '../torch/index.js';
import type { NamedParameters } from './optimizer.js';
import { SlotOptimizer } from './slots.js';

/** torch.optim.AdamW's hyperparameters, the learning rate aside. */
export interface AdamWConfig {
  name: 'adamw';
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

/** torch.optim.AdamW's defaults. */
export const adamwDefaults: AdamWConfig = { name: 'adamw', betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 };

/** What is wrong with an AdamW configuration (nothing: []). */
export function checkAdamWConfig(c: AdamWConfig): string[] {
  const problems: string[] = [];
  const beta = (v: unknown) => typeof v === 'number' && v >= 0 && v < 1;
  if (!Array.isArray(c.betas) || c.betas.length !== 2 || !c.betas.every(beta))
    problems.push('betas must be two numbers in [0, 1)');
  if (!(typeof c.eps === 'number' && c.eps > 0 && Number.isFinite(c.eps))) problems.push('eps must be positive');
  if (!(typeof c.weightDecay === 'number' && c.weightDecay >= 0 && Number.isFinite(c.weightDecay)))
    problems.push('weightDecay must be >= 0');
  return problems;
}

// torch.optim.AdamW's state keys.
const EXP_AVG = 'exp_avg';
const EXP_AVG_SQ = 'exp_avg_sq';
const STEP = 'step';

export class AdamW extends SlotOptimizer {
  /** The step count and bias corrections are computed on the host: a step cannot be replayed from a graph. */
  readonly capturable = false;
  /** The step counts, mirrored on the host so that a step never waits for the device to read them. */
  readonly #steps = new Map<string, number>();

  constructor(
    params: NamedParameters,
    readonly options: Omit<AdamWConfig, 'name'>,
  ) {
    super(params, [EXP_AVG, EXP_AVG_SQ, STEP], 'AdamW');
    const problems = checkAdamWConfig({ name: 'adamw', ...options });
    if (problems.length) throw new Error(`AdamW: ${problems.join('; ')}`);
  }

  step(lr: number | T.Tensor): void {
    const rate = typeof lr === 'number' ? lr : lr.item();
    const {
      betas: [beta1, beta2],
      eps,
      weightDecay,
    } = this.options;
    T.noGrad(() => {
      for (const [name, p] of this.params) {
        const grad = p.grad;
        if (!grad) continue;
        T.tidy(() => {
          const m = this.buffers.get(EXP_AVG, name) ?? this.buffers.set(EXP_AVG, name, T.zerosLike(p));
          const v = this.buffers.get(EXP_AVG_SQ, name) ?? this.buffers.set(EXP_AVG_SQ, name, T.zerosLike(p));
          const t = (this.#steps.get(name) ?? 0) + 1;
          this.#steps.set(name, t);
          const count = this.buffers.get(STEP, name) ?? this.buffers.set(STEP, name, T.zeros([], { device: p.device }));
          count.fill_(t);
          if (weightDecay !== 0) p.mul_(1 - rate * weightDecay);
          m.lerp_(grad, 1 - beta1);
          v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
          const denom = v
            .sqrt()
            .div(Math.sqrt(1 - beta2 ** t))
            .add_(eps);
          p.addcdiv_(m, denom, -rate / (1 - beta1 ** t));
        });
      }
    });
  }

  loadState(saved: ReadonlyMap<string, T.Tensor>): void {
    this.buffers.load(saved, this.params, (slot, p) => (slot === STEP ? [] : p.shape));
    this.#steps.clear();
    for (const [name] of this.params) {
      const count = this.buffers.get(STEP, name);
      if (count) this.#steps.set(name, count.item());
    }
  }

  maskState(masks: ReadonlyMap<string, T.Tensor>): void {
    this.buffers.mask(masks, [EXP_AVG, EXP_AVG_SQ]);
  }

  override reset(): void {
    super.reset();
    this.#steps.clear();
  }
}
