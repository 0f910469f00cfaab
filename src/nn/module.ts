// Module: a tree of layers holding named parameters and buffers, named exactly as PyTorch's
// state_dict keys. The train/eval flag is an argument of every forward call, never hidden state.
import * as T from '../torch/index.js';

/** What loading needs to know of a tensor before reading its values (a tensor, or an entry of a file). */
export interface TensorSpec {
  readonly shape: readonly number[];
  readonly dtype: T.DType;
}

const dtypeKind = (d: T.DType) => (T.isFloatingPoint(d) ? 'floating' : d === 'bool' ? 'bool' : 'integer');

/** A long list of names shortened for a message: the first few and how many more. */
export function shortList(items: readonly string[], shown = 6): string {
  return items.length <= shown
    ? items.join(', ')
    : `${items.slice(0, shown).join(', ')} and ${items.length - shown} more (${items.length} in all)`;
}

/** A layer or network (torch.nn.Module): parameters, buffers and child modules under PyTorch's state_dict names. */
export abstract class Module {
  readonly #parameters = new Map<string, T.Tensor>();
  readonly #buffers = new Map<string, T.Tensor>();
  readonly #children = new Map<string, Module>();
  /** State-dict order of the module's own entries (PyTorch: parameters, then buffers). */
  readonly #order: string[] = [];

  /** The output for a batch; `training` selects training behaviour (batch statistics, dropout, range observation). */
  abstract forward(x: T.Tensor, training: boolean): T.Tensor;

  /** The shape (CHW) of one input sample, which a traced forward (scoring, BatchNorm folding) uses: CIFAR's unless a network says otherwise. */
  get sampleShape(): readonly number[] {
    return [3, 32, 32];
  }

  /** A short description for tables and errors, e.g. "Conv2d(3, 192, k=3)". */
  describe(): string {
    return this.constructor.name;
  }

  protected registerParameter(name: string, value: T.Tensor): T.Tensor {
    this.#checkName(name);
    const p = T.keep(value.requiresGrad ? value : value.requiresGrad_());
    this.#parameters.set(name, p);
    this.#order.push(name);
    return p;
  }

  protected registerBuffer(name: string, value: T.Tensor): T.Tensor {
    this.#checkName(name);
    this.#buffers.set(name, T.keep(value));
    this.#order.push(name);
    return value;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#checkName(name);
    this.#children.set(name, module);
    return module;
  }

  /** Puts another module in place of a child, keeping its name and position (the old one is not disposed). */
  protected replaceModule<M extends Module>(name: string, module: M): M {
    if (!this.#children.has(name)) throw new Error(`${this.describe()} has no child '${name}'`);
    this.#children.set(name, module);
    return module;
  }

  /**
   * A structural pass's entry point (BatchNorm folding): puts `module` in place of the child
   * `name`. A module whose children may be replaced reads them with child() in its forward.
   */
  replaceChild(name: string, module: Module): void {
    this.replaceModule(name, module);
  }

  /** The child of this name as it is now (after any replaceChild). */
  child(name: string): Module {
    const m = this.#children.get(name);
    if (!m) throw new Error(`${this.describe()} has no child '${name}'`);
    return m;
  }

  #checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`invalid member name '${name}'`);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#children.has(name))
      throw new Error(`${this.describe()}: '${name}' registered twice`);
  }

  /** The current value of a parameter or buffer of this module (not of its children). */
  protected get(name: string): T.Tensor {
    const t = this.find(name);
    if (!t) throw new Error(`${this.describe()} has no parameter or buffer '${name}'`);
    return t;
  }

  protected find(name: string): T.Tensor | null {
    return this.#parameters.get(name) ?? this.#buffers.get(name) ?? null;
  }

  /** The direct children, by name, in registration order. */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** Every module of the tree, depth first in registration order, the root named ''. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#children) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** Every parameter of the tree under its state_dict key, in registration order. */
  namedParameters(prefix = ''): [string, T.Tensor][] {
    return this.#named(prefix, (m) => m.#parameters);
  }

  /** Every buffer of the tree under its state_dict key, in registration order. */
  namedBuffers(prefix = ''): [string, T.Tensor][] {
    return this.#named(prefix, (m) => m.#buffers);
  }

  /** Every parameter of the tree (what an optimizer updates). */
  parameters(): T.Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  #named(prefix: string, pick: (m: Module) => Map<string, T.Tensor>): [string, T.Tensor][] {
    const out: [string, T.Tensor][] = [];
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, t] of pick(m)) out.push([path ? `${path}.${name}` : name, t]);
    }
    return out;
  }

  /** Parameters and buffers under their state_dict keys, in PyTorch's order. */
  stateDict(prefix = ''): Map<string, T.Tensor> {
    const out = new Map<string, T.Tensor>();
    for (const name of this.#order) out.set(prefix + name, this.get(name));
    for (const [name, child] of this.#children)
      for (const [k, v] of child.stateDict(`${prefix}${name}.`)) out.set(k, v);
    return out;
  }

  /**
   * Throws if `given` does not fit this module: wrong shapes, dtypes of another kind (a float
   * where an integer belongs), and, when strict (the default), missing or unexpected keys, all
   * listed in one error. Reads only shapes and dtypes, so files can be checked before their
   * tensors are read.
   */
  checkStateDict(given: ReadonlyMap<string, TensorSpec>, options: { strict?: boolean; what?: string } = {}): void {
    const own = this.stateDict();
    const problems: string[] = [];
    const report = (what: string, items: string[]) => {
      if (items.length) problems.push(`${what}: ${shortList(items)}`);
    };
    report(
      'wrong shape',
      [...own]
        .filter(([k, t]) => given.has(k) && !T.sameShape(given.get(k)!.shape, t.shape))
        .map(([k, t]) => `${k}: expected [${t.shape.join(', ')}], got [${given.get(k)!.shape.join(', ')}]`),
    );
    report(
      'wrong dtype',
      [...own]
        .filter(([k, t]) => given.has(k) && dtypeKind(given.get(k)!.dtype) !== dtypeKind(t.dtype))
        .map(([k, t]) => `${k}: expected ${t.dtype}, got ${given.get(k)!.dtype}`),
    );
    if (options.strict ?? true) {
      report(
        'missing',
        [...own.keys()].filter((k) => !given.has(k)),
      );
      report(
        'unexpected',
        [...given.keys()].filter((k) => !own.has(k)),
      );
    }
    if (problems.length)
      throw new Error(
        `cannot load state dict${options.what ? ` from ${options.what}` : ''} into ${this.describe()}: ${problems.join('. ')}`,
      );
  }

  /**
   * Copies values into the module's tensors (floating dtypes converted, device kept), after
   * checkStateDict and a check that every floating value is finite: a NaN or infinite weight is
   * refused, naming the tensor, and nothing is changed.
   */
  loadStateDict(
    source: Map<string, T.Tensor> | Record<string, T.Tensor>,
    options: { strict?: boolean; what?: string } = {},
  ): void {
    const given = source instanceof Map ? source : new Map(Object.entries(source));
    this.checkStateDict(given, options);
    const own = this.stateDict();
    const nonFinite = [...given]
      .filter(
        ([k, t]) =>
          own.has(k) &&
          T.isFloatingPoint(t.dtype) &&
          T.tidy(() => T.noGrad(() => t.isfinite().logicalNot().countNonzero().item())) > 0,
      )
      .map(([k]) => k);
    if (nonFinite.length) {
      throw new Error(
        `cannot load state dict${options.what ? ` from ${options.what}` : ''}: non-finite values (NaN or infinity) in ${shortList(nonFinite)}`,
      );
    }
    T.noGrad(() => {
      for (const [k, t] of own) {
        const v = given.get(k);
        if (v)
          T.tidy(() => {
            t.copy_(v);
          });
      }
    });
  }

  /** Moves every parameter and buffer to a device (and/or memory format), in place. */
  to(target: { device?: T.Device; memoryFormat?: T.MemoryFormat }): this {
    for (const [, m] of this.namedModules()) {
      for (const map of [m.#parameters, m.#buffers]) {
        for (const [name, t] of map) {
          const fmt = target.memoryFormat && t.ndim === 4 ? { memoryFormat: target.memoryFormat } : {};
          const moved = T.keep(T.noGrad(() => t.to({ ...(target.device ? { device: target.device } : {}), ...fmt })));
          if (map === m.#parameters && !moved.requiresGrad) moved.requiresGrad_();
          map.set(name, moved);
          t.dispose();
        }
      }
    }
    return this;
  }

  /** Total number of parameter elements (buffers not counted). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  /** Frees every parameter and buffer of the tree. */
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }

  /** `using model = ...` frees its parameters and buffers at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
