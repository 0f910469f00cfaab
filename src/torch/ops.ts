// Calls ATen operators by schema name through the addon's single dispatch entry point.
import { native, type GeneratorHandle, type Handle } from './native.js';

export class Op {
  #index = -1;
  constructor(readonly name: string, readonly overload: string) {}
  get index(): number {
    if (this.#index < 0) this.#index = native.findOp(this.name, this.overload);
    return this.#index;
  }
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
export interface HasHandle {
  readonly handle: Handle | GeneratorHandle;
}

export type OpArg = HasHandle | number | bigint | boolean | string | null | undefined | readonly OpArg[];

export function toNativeArg(a: OpArg): unknown {
  if (a === null || typeof a !== 'object') return a;
  if (Array.isArray(a)) return a.map(toNativeArg);
  return (a as HasHandle).handle;
}

export function rawCall(o: Op, args: readonly OpArg[]): unknown {
  return native.callOp(o.index, args.map(toNativeArg));
}
