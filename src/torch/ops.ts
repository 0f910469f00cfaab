// Calls ATen operators by schema name through the addon's single dispatch entry point.
import { native, type GeneratorHandle, type Handle } from './native.js';

/** An ATen operator overload by schema name (e.g. aten::add, overload Tensor), looked up in the dispatcher on first use. */
export class Op {
  #index = -1;
  constructor(
    readonly name: string,
    readonly overload: string,
  ) {}
  /** The addon's index of the operator; the lookup throws if libtorch has no such overload. */
  get index(): number {
    if (this.#index < 0) this.#index = native.findOp(this.name, this.overload);
    return this.#index;
  }
  /** The operator's full schema as libtorch prints it: arguments, defaults and returns. */
  get schema(): string {
    return native.opSchema(this.index);
  }
}

const known = new Map<string, Op>();

/** `op('add.Tensor')` names ATen's `aten::add` overload `Tensor`; resolved on first use. */
export function op(qualified: string): Op {
  let found = known.get(qualified);
  if (!found) {
    const dot = qualified.indexOf('.');
    const [name, overload] = dot < 0 ? [qualified, ''] : [qualified.slice(0, dot), qualified.slice(dot + 1)];
    found = new Op(name.includes('::') ? name : `aten::${name}`, overload);
    known.set(qualified, found);
  }
  return found;
}

/** Anything that stands for a native object when passed to an operator. */
interface HasHandle {
  readonly handle: Handle | GeneratorHandle;
}

/** An operator argument: native objects, scalars, strings, lists; null for an absent optional, undefined for the schema's default. */
export type OpArg = HasHandle | number | bigint | boolean | string | null | undefined | readonly OpArg[];

/** An argument as the addon takes it: native objects replaced by their handles, lists converted element by element. */
function toNativeArg(a: OpArg): unknown {
  if (a === null || typeof a !== 'object') return a;
  if (Array.isArray(a)) return a.map(toNativeArg);
  return (a as HasHandle).handle;
}

/** One operator call as an observer sees it: the operator, the tensors it took and those it made. */
export interface ObservedOp {
  /** `add.Tensor`, `cat`, ...: the name without `aten::`, with its overload. */
  name: string;
  /** Handles of the tensor arguments (lists flattened). */
  inputs: number[];
  /** The other arguments, in order (a concatenation's dim, a flatten's dims). */
  attributes: unknown[];
  /** The result tensors' handles and shapes. */
  outputs: { handle: number; shape: number[] }[];
}
export type OpObserver = (call: ObservedOp) => void;
let observer: OpObserver | null = null;

/** A tensor, or a list holding tensors. */
const isTensorArg = (a: OpArg): boolean =>
  Array.isArray(a)
    ? a.some(isTensorArg)
    : a !== null && typeof a === 'object' && typeof (a as HasHandle).handle === 'number';

function tensorHandles(args: readonly OpArg[], into: number[] = []): number[] {
  for (const a of args) {
    if (Array.isArray(a)) tensorHandles(a, into);
    else if (a !== null && typeof a === 'object' && typeof (a as HasHandle).handle === 'number')
      into.push((a as HasHandle).handle as number);
  }
  return into;
}

function observed(o: Op, args: readonly OpArg[], result: unknown): ObservedOp {
  const handles = (Array.isArray(result) ? result : [result]).filter((h): h is number => typeof h === 'number');
  return {
    name: `${o.name.replace(/^aten::/, '')}${o.overload ? `.${o.overload}` : ''}`,
    inputs: tensorHandles(args),
    attributes: args.filter((a) => !isTensorArg(a)),
    outputs: handles.map((handle) => ({ handle, shape: native.shape(handle as Handle) as number[] })),
  };
}

/**
 * Runs body with every operator call reported to observe (what the scorer uses to see the
 * computation a model's forward does outside its layers). Not reentrant.
 */
export function observeOps<R>(observe: OpObserver, body: () => R): R {
  if (observer) throw new Error('observeOps: operators are observed already');
  observer = observe;
  try {
    return body();
  } finally {
    observer = null;
  }
}

/** Calls an operator and returns the addon's raw result (tensor handles as numbers, not yet wrapped). */
export function rawCall(o: Op, args: readonly OpArg[]): unknown {
  const nativeArgs = args.map(toNativeArg);
  const result = native.callOp(o.index, ...nativeArgs);
  if (observer) observer(observed(o, args, result));
  return result;
}
