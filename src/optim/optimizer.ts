// The contract between the trainer and an optimizer. An optimizer owns its per-parameter state
// (momentum, moment estimates, step counts) under names of the form `<slot>/<parameter>`: it saves
// and restores it through those names, the data-parallel group broadcasts it in their order, and
// it zeroes it where pruning masks a weight. Nobody else reaches into it.
import type * as T from '../torch/index.js';

/** Named parameters, as Module.namedParameters() gives them. */
export type NamedParameters = readonly [string, T.Tensor][];

export interface Optimizer {
  /** The parameters it updates, by name. */
  readonly params: NamedParameters;
  /**
   * Whether a step can be captured into a CUDA graph and replayed: everything it computes must
   * happen on the device, with the learning rate read from a device scalar.
   */
  readonly capturable: boolean;
  /** One update of every parameter that has a gradient, at learning rate lr (a number or a 0-dim tensor on the parameters' device). */
  step(lr: number | T.Tensor): void;
  /** Clears every parameter's gradient (set to null, as PyTorch's set_to_none). */
  zeroGrad(): void;
  /** Forgets its state: a fresh optimizer over the same parameters. */
  reset(): void;
  /** A fresh optimizer over other parameters (a model whose structure changed). */
  restart(params: NamedParameters): void;
  /** Its state tensors by `<slot>/<parameter>` name, in a fixed order: what a checkpoint saves and a group broadcasts. The optimizer keeps ownership. */
  state(): Map<string, T.Tensor>;
  /** Replaces its state with copies of saved tensors (placed on each parameter's device); throws for a name or shape it cannot hold. */
  loadState(saved: ReadonlyMap<string, T.Tensor>): void;
  /** Zeroes its state wherever a parameter's mask (by parameter name) is 0, so that pruned weights stay zero. */
  maskState(masks: ReadonlyMap<string, T.Tensor>): void;
}

/** The `<slot>/<parameter>` name of one state tensor. */
export const stateName = (slot: string, param: string) => `${slot}/${param}`;

/** Splits a state name into its slot and parameter; null when it has no slot. */
export function parseStateName(name: string): { slot: string; param: string } | null {
  const slash = name.indexOf('/');
  return slash <= 0 ? null : { slot: name.slice(0, slash), param: name.slice(slash + 1) };
}
