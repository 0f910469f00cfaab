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

/** Calls an operator and returns the addon's raw result (tensor handles as numbers, not yet wrapped). */
export function rawCall(o: Op, args: readonly OpArg[]): unknown {
  return native.callOp(o.index, ...args.map(toNativeArg));
}
