// Models by name, so that the CLI, recipes and checkpoints can name them.

import { shown } from '../text.js';
import type { InitOptions, Module } from '../nn/index.js';
import { checkGoogLeNetConfig, defaultGoogLeNetConfig, GoogLeNet } from './googlenet.js';
import { checkDenseNetConfig, defaultDenseNetConfig, DenseNet } from './densenet.js';
import { checkNasNetConfig, defaultNasNetConfig, NasNet } from './nasnet.js';
import { checkWideResNetConfig, defaultWideResNetConfig, WideResNet } from './wide-resnet.js';

/** A model the registry can build by name, with its default configuration. */
export interface ModelEntry<C extends object = object> {
  /** The name recipes, checkpoints and the CLI use. */
  name: string;
  /** One line for listings. */
  description: string;
  /** The default configuration; a given configuration may only change these fields, keeping their types. */
  defaults: C;
  /** What is wrong with a configuration, beyond its field types (ranges, sane sizes). */
  check(config: C): string[];
  /** A new model of that configuration, freshly initialised. */
  build(config: C, init?: InitOptions): Module;
}

/** A registry entry: a network's class, its defaults and its check, under a name. */
function entry<N extends string, C extends object>(
  name: N,
  description: string,
  defaults: NoInfer<C>,
  check: (config: C) => string[],
  Network: new (config: NoInfer<C>, init?: InitOptions) => Module,
): ModelEntry<C> & { name: N } {
  return { name, description, defaults, check, build: (config, init) => new Network(config, init) };
}

// One line a network; the names and configuration types below are read from these.
const entries = [
  entry(
    'googlenet',
    "the seed entry's CIFAR GoogLeNet (6,258,500 parameters, masked, BatchNorm eps quirk)",
    defaultGoogLeNetConfig,
    checkGoogLeNetConfig,
    GoogLeNet,
  ),
  entry(
    'googlenet-fixed-eps',
    'googlenet with every BatchNorm at eps 1e-5',
    { ...defaultGoogLeNetConfig, epsQuirk: false },
    checkGoogLeNetConfig,
    GoogLeNet,
  ),
  entry(
    'wrn-28-10',
    "WideResNet-28-10, the challenge's reference network (36.5M parameters; width 1 for smoke-sized runs)",
    defaultWideResNetConfig,
    checkWideResNetConfig,
    WideResNet,
  ),
  entry(
    'densenet121',
    'DenseNet-BC-121, a baseline the entry weighed (7,048,548 parameters; width scales the growth rate)',
    defaultDenseNetConfig,
    checkDenseNetConfig,
    DenseNet,
  ),
  entry(
    'nasnet',
    'NASNet-A 6@768, a baseline the entry weighed (N cells a stage; width scales the filters)',
    defaultNasNetConfig,
    checkNasNetConfig,
    NasNet,
  ),
] as const;

/** Each registered network's configuration type, by name. */
export type ModelConfigs = { [E in (typeof entries)[number] as E['name']]: E['defaults'] };

/** The name of a registered network. */
export type ModelName = keyof ModelConfigs;

/**
 * The configuration of the network called N: its own type for a registered name, a plain record
 * for a name only known at run time (checked then).
 */
export type ConfigOf<N extends string> = N extends ModelName ? ModelConfigs[N] : Record<string, unknown>;

/** A name as the builders take it: a registered network's, or any string known only at run time (a literal that names no network does not compile). */
export type KnownName<N extends string> = N extends ModelName ? N : string extends N ? N : ModelName;

/** What may be given for the network called N: some of its fields (an unknown one does not compile for a registered name). */
export type ConfigInput<N extends string> = N extends ModelName ? Partial<ModelConfigs[N]> : Record<string, unknown>;

/** Names of the registered models. */
export function modelNames(): string[] {
  return entries.map((e) => e.name);
}

/** The registered model of that name; throws, listing the known names, if there is none. */
export function findModel(name: string): ModelEntry {
  const entry: ModelEntry | undefined = entries.find((e) => e.name === name);
  if (!entry) throw new Error(`unknown model '${name}' (known: ${modelNames().join(', ')})`);
  return entry;
}

/**
 * The full configuration of a registered model: the given fields over the defaults, each checked
 * for its type and range (a checkpoint's metadata is untrusted: no absurd sizes get built).
 */
export function modelConfig<N extends string>(name: KnownName<N>, config?: ConfigInput<N>): ConfigOf<N> {
  const entry = findModel(name);
  const merged: Record<string, unknown> = { ...entry.defaults };
  for (const [key, value] of Object.entries(config ?? {})) {
    const defaults = entry.defaults as Record<string, unknown>;
    const expected = Object.hasOwn(defaults, key) ? defaults[key] : undefined;
    if (expected === undefined)
      throw new Error(`model ${name} has no option '${key}' (known: ${Object.keys(entry.defaults).join(', ')})`);
    if (typeof value !== typeof expected)
      throw new Error(`model ${name} option '${key}' must be a ${typeof expected}, got ${shown(value)}`);
    merged[key] = value;
  }
  const problems = entry.check(merged);
  if (problems.length) throw new Error(`model ${name}: ${problems.join('; ')}`);
  return merged as ConfigOf<N>;
}

/** Builds a registered model from its configuration (see modelConfig). */
export function buildModel<N extends string>(
  name: KnownName<N>,
  config?: ConfigInput<N>,
  init: InitOptions = {},
): { model: Module; config: ConfigOf<N> } {
  const merged = modelConfig<N>(name, config);
  return { model: findModel(name).build(merged, init), config: merged };
}
