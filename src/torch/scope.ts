// Explicit lifetimes for native resources: dispose(), and tidy() scopes that free whatever was
// created inside except what is returned or kept. GC finalisation is only a safety net.

/** A native resource that tidy() scopes track and free. */
export abstract class Tracked {
  /** Frees the native resource now. */
  abstract dispose(): void;

  /** `using t = ...` frees the resource at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

const scopes: Set<Tracked>[] = [];

/** Registers a new resource with the innermost open tidy() scope, if any. */
export function track(t: Tracked): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a resource from the innermost scope that tracks it (disposed, or kept by keep()). */
export function untrack(t: Tracked): void {
  for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i]!.delete(t)) return;
}

/** Keeps a resource alive past every enclosing tidy(); its owner disposes it. */
export function keep<T extends Tracked>(t: T): T {
  untrack(t);
  return t;
}

function collect(value: unknown, into: Set<Tracked>, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (value instanceof Tracked) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, into, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, into, depth + 1);
}

/**
 * Runs fn and disposes every tensor created inside it, except those reachable from its result
 * (a tensor, or arrays, Maps and plain objects holding tensors), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tracked>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy() needs a synchronous function: tensors cannot be tracked across await');
  }
  const kept = new Set<Tracked>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t)) track(t);
    else t.dispose();
  }
  return result;
}

/** How many scopes are open (for tests and diagnostics). */
export function scopeDepth(): number {
  return scopes.length;
}
