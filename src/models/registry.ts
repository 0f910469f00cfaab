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
function entry<C extends object>(
  name: string,
  description: string,
  defaults: C,
  check: (config: C) => string[],
  Network: new (config: C, init?: InitOptions) => Module,
): ModelEntry {
  return { name, description, defaults, check, build: (config, init) => new Network(config as C, init) } as ModelEntry;
}

const entries: ModelEntry[] = [
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
];

/** Names of the registered models. */
export function modelNames(): string[] {
  return entries.map((e) => e.name);
}

/** The registered model of that name; throws, listing the known names, if there is none. */
export function findModel(name: string): ModelEntry {
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new Error(`unknown model '${name}' (known: ${modelNames().join(', ')})`);
  return entry;
}

/**
 * The full configuration of a registered model: the given fields over the defaults, each checked
 * for its type and range (a checkpoint's metadata is untrusted: no absurd sizes get built).
 */
export function modelConfig(name: string, config: Record<string, unknown> = {}): Record<string, unknown> {
  const entry = findModel(name);
  const merged: Record<string, unknown> = { ...entry.defaults };
  for (const [key, value] of Object.entries(config)) {
    const defaults = entry.defaults as Record<string, unknown>;
    const expected = Object.hasOwn(defaults, key) ? defaults[key] : undefined;
    if (expected === undefined)
      throw new Error(`model ${name} has no option '${key}' (known: ${Object.keys(entry.defaults).join(', ')})`);
    if (typeof value !== typeof expected)
      throw new Error(`model ${name} option '${key}' must be a ${typeof expected}, got ${shown(value)}`);
    merged[key] = value;
  }
  const problems = entry.check(merged as never);
  if (problems.length) throw new Error(`model ${name}: ${problems.join('; ')}`);
  return merged;
}

/** Builds a registered model from its configuration (see modelConfig). */
export function buildModel(
  name: string,
  config: Record<string, unknown> = {},
  init: InitOptions = {},
): { model: Module; config: Record<string, unknown> } {
  const merged = modelConfig(name, config);
  return { model: findModel(name).build(merged as never, init), config: merged };
}
