// Module: a tree of layers holding named parameters and buffers, named exactly as PyTorch's
// state_dict keys. The train/eval flag is an argument of every forward call, never hidden state.
import * as T from '../torch/index.js';

export abstract class Module {
  readonly #parameters = new Map<string, T.Tensor>();
  readonly #buffers = new Map<string, T.Tensor>();
  readonly #children = new Map<string, Module>();
  /** State-dict order of the module's own entries (PyTorch: parameters, then buffers). */
  readonly #order: string[] = [];

  abstract forward(x: T.Tensor, training: boolean): T.Tensor;

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

  #checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`invalid member name '${name}'`);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#children.has(name)) throw new Error(`${this.describe()}: '${name}' registered twice`);
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

  children(): [string, Module][] {
    return [...this.#children];
  }

  /** Every module of the tree, depth first in registration order, the root named ''. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#children) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  namedParameters(prefix = ''): [string, T.Tensor][] {
    return this.#named(prefix, (m) => m.#parameters);
  }

  namedBuffers(prefix = ''): [string, T.Tensor][] {
    return this.#named(prefix, (m) => m.#buffers);
  }

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
    for (const [name, child] of this.#children) for (const [k, v] of child.stateDict(`${prefix}${name}.`)) out.set(k, v);
    return out;
  }

  /**
   * Copies values into the module's tensors (dtype converted, device kept). Strict by default:
   * missing, unexpected and mis-shaped keys are all listed in one error, and nothing is changed.
   */
  loadStateDict(source: Map<string, T.Tensor> | Record<string, T.Tensor>, options: { strict?: boolean; what?: string } = {}): void {
    const given = source instanceof Map ? source : new Map(Object.entries(source));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !given.has(k));
    const unexpected = [...given.keys()].filter((k) => !own.has(k));
    const misshaped = [...own].filter(([k, t]) => given.has(k) && !T.sameShape(given.get(k)!.shape, t.shape))
      .map(([k, t]) => `${k}: expected [${t.shape.join(', ')}], got [${given.get(k)!.shape.join(', ')}]`);
    const strict = options.strict ?? true;
    const problems = [
      ...(misshaped.length ? [`wrong shape: ${misshaped.join('; ')}`] : []),
      ...(strict && missing.length ? [`missing: ${missing.join(', ')}`] : []),
      ...(strict && unexpected.length ? [`unexpected: ${unexpected.join(', ')}`] : []),
    ];
    if (problems.length) throw new Error(`cannot load state dict${options.what ? ` from ${options.what}` : ''} into ${this.describe()}: ${problems.join('. ')}`);
    T.noGrad(() => {
      for (const [k, t] of own) {
        const v = given.get(k);
        if (v) T.tidy(() => { t.copy_(v); });
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

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}
