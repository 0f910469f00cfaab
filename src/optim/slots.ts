// Per-parameter state tensors in named slots, what every optimizer keeps: saved and restored by
// `<slot>/<parameter>` name, masked with the weights, freed on reset.
import * as T from '../torch/index.js';
import { parseStateName, stateName, type NamedParameters, type Optimizer } from './optimizer.js';

class ParameterSlots {
  readonly #slots = new Map<string, Map<string, T.Tensor>>();

  /** `slots`: the slot names this optimizer may hold; `what`: its name, for errors. */
  constructor(
    readonly slots: readonly string[],
    private readonly what: string,
  ) {
    for (const s of slots) this.#slots.set(s, new Map());
  }

  get(slot: string, param: string): T.Tensor | undefined {
    return this.#slots.get(slot)!.get(param);
  }

  /** Takes ownership of `t` (kept beyond the current scope). */
  set(slot: string, param: string, t: T.Tensor): T.Tensor {
    this.#slots.get(slot)!.set(param, T.keep(t));
    return t;
  }

  /** Every state tensor by `<slot>/<parameter>`, sorted by name. */
  all(): Map<string, T.Tensor> {
    const entries = [...this.#slots].flatMap(([slot, m]) => [...m].map(([p, t]) => [stateName(slot, p), t] as const));
    return new Map(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Replaces the state with copies of `saved`, each on its parameter's device; a slot the parameter's shape does not fit (`shaped`) is refused. */
  load(
    saved: ReadonlyMap<string, T.Tensor>,
    params: NamedParameters,
    shaped: (slot: string, p: T.Tensor) => readonly number[],
  ): void {
    this.clear();
    const byName = new Map(params);
    for (const [name, t] of saved) {
      const parsed = parseStateName(name);
      const p = parsed && byName.get(parsed.param);
      if (!parsed || !this.#slots.has(parsed.slot)) throw new Error(`${this.what} has no state '${name}'`);
      if (!p) throw new Error(`${this.what} state '${name}' is for an unknown parameter`);
      const shape = shaped(parsed.slot, p);
      if (!T.sameShape(shape, t.shape))
        throw new Error(`${this.what} state '${name}' has shape [${t.shape}], expected [${shape}]`);
      this.set(parsed.slot, parsed.param, t.to({ device: p.device, copy: true }));
    }
  }

  /** Zeroes the `slots` named where a parameter's mask is 0. */
  mask(masks: ReadonlyMap<string, T.Tensor>, slots: readonly string[]): void {
    T.noGrad(() =>
      T.tidy(() => {
        const held = slots.flatMap((slot) =>
          [...masks].flatMap(([param, m]) => {
            const t = this.get(slot, param);
            return t ? [[t, m] as const] : [];
          }),
        );
        T.foreachMul_(
          held.map(([t]) => t),
          held.map(([, m]) => m),
        );
      }),
    );
  }

  clear(): void {
    for (const m of this.#slots.values()) {
      for (const t of m.values()) t.dispose();
      m.clear();
    }
  }
}

/**
 * What every optimizer here shares: its parameters, kept state in named slots, and the parts of
 * the contract that do not depend on the update rule.
 */
export abstract class SlotOptimizer implements Optimizer {
  abstract readonly capturable: boolean;
  /** The per-parameter state, in the slots the subclass names. */
  protected readonly buffers: ParameterSlots;
  #params: NamedParameters;

  constructor(params: NamedParameters, slots: readonly string[], what: string) {
    this.#params = params;
    this.buffers = new ParameterSlots(slots, what);
  }

  abstract step(lr: number | T.Tensor): void;
  abstract loadState(saved: ReadonlyMap<string, T.Tensor>): void;
  abstract maskState(masks: ReadonlyMap<string, T.Tensor>): void;

  get params(): NamedParameters {
    return this.#params;
  }

  restart(params: NamedParameters): void {
    this.reset();
    this.#params = params;
  }

  zeroGrad(): void {
    for (const [, p] of this.params) p.grad = null;
  }

  state(): Map<string, T.Tensor> {
    return this.buffers.all();
  }

  reset(): void {
    this.buffers.clear();
  }
}
