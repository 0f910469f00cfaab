// Optimizers by name: each is one file implementing the Optimizer contract, registered here with
// its configuration check. A recipe's `optimizer` field names one and holds its hyperparameters.
import { AdamW, adamwDefaults, checkAdamWConfig, type AdamWConfig } from './adamw.js';
import type { NamedParameters, Optimizer } from './optimizer.js';
import { checkSgdConfig, SGD, sgdDefaults, type SgdConfig } from './sgd.js';

export type { NamedParameters, Optimizer } from './optimizer.js';
export { SGD, sgdDefaults, type SgdConfig } from './sgd.js';
export { AdamW, adamwDefaults, type AdamWConfig } from './adamw.js';

/** A recipe's optimizer: its registry name and hyperparameters. */
export type OptimizerConfig = SgdConfig | AdamWConfig;

interface Entry<C extends OptimizerConfig> {
  /** PyTorch's defaults: what `--set optimizer.name=N` starts from, and the fields N takes. */
  defaults: C;
  check(config: C): string[];
  create(params: NamedParameters, config: C): Optimizer;
}

const registry: { [N in OptimizerConfig['name']]: Entry<Extract<OptimizerConfig, { name: N }>> } = {
  sgd: { defaults: sgdDefaults, check: checkSgdConfig, create: (params, c) => new SGD(params, c) },
  adamw: { defaults: adamwDefaults, check: checkAdamWConfig, create: (params, c) => new AdamW(params, c) },
};

/** The registered optimizers' names. */
export const optimizerNames = Object.keys(registry) as OptimizerConfig['name'][];

const entry = (name: string) =>
  Object.hasOwn(registry, name) ? (registry[name as OptimizerConfig['name']] as Entry<OptimizerConfig>) : null;

/** What is wrong with an optimizer configuration, each problem prefixed by its field. */
export function checkOptimizerConfig(config: unknown): string[] {
  const c = config as OptimizerConfig | null;
  const e = typeof c === 'object' && c !== null ? entry(c.name) : null;
  if (!e) return [`optimizer.name must be one of ${optimizerNames.join(', ')}`];
  const unknown = Object.keys(c!)
    .filter((k) => !Object.hasOwn(e.defaults, k))
    .map((k) => `${c!.name} has no field '${k}'`);
  return [...unknown, ...e.check(c!)].map((p) => `optimizer.${p}`);
}

/** A registered optimizer's configuration with PyTorch's defaults; null for an unknown name. */
export function optimizerDefaults(name: string): OptimizerConfig | null {
  const e = entry(name);
  return e && structuredClone(e.defaults);
}

/** The optimizer a configuration names, over the given parameters. */
export function createOptimizer(params: NamedParameters, config: OptimizerConfig): Optimizer {
  const e = entry(config.name);
  if (!e) throw new Error(`unknown optimizer '${config.name}' (known: ${optimizerNames.join(', ')})`);
  return e.create(params, config);
}
