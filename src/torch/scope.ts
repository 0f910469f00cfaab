// Explicit lifetimes for native resources: dispose(), and tidy() scopes that free whatever was
// created inside except what is returned or kept. GC finalisation is only a safety net, and only
// resources outside every scope need it: a scope holds its resources strongly until it ends.

/**
 * The resources created in one tidy() scope, in creation order. An array rather than a Set: each
 * resource knows its slot, so tracking and untracking cost no hashing. Untracked slots are holes
 * (null), squeezed out when they are most of the array.
 */
class Scope {
  readonly items: (Tracked | null)[] = [];
  holes = 0;
}

const scopes: Scope[] = [];

// Assigned in Tracked's static block, where the private fields are in reach.
let enter: (t: Tracked, scope: Scope | undefined) => void;
let leave: (t: Tracked) => boolean;
let release: (t: Tracked) => void;

/** A native resource that tidy() scopes track and free. */
export abstract class Tracked {
  #scope: Scope | null = null;
  #slot = 0;

  static {
    // Into the scope, or, outside every scope, to the GC safety net.
    enter = (t, scope) => {
      if (scope === undefined) {
        t.unscoped();
        return;
      }
      t.#scope = scope;
      t.#slot = scope.items.push(t) - 1;
    };
    // Out of its scope, if any (true when it was in one).
    leave = (t) => {
      const scope = t.#scope;
      if (scope === null) return false;
      t.#scope = null;
      scope.items[t.#slot] = null;
      if (++scope.holes > 32 && scope.holes * 2 > scope.items.length) {
        const items = scope.items;
        let n = 0;
        for (let i = 0; i < items.length; i++) {
          const u = items[i];
          if (u) {
            u.#slot = n;
            items[n++] = u;
          }
        }
        items.length = n;
        scope.holes = 0;
      }
      return true;
    };
    // Out of a scope that has ended (its array is dropped, not updated).
    release = (t) => {
      t.#scope = null;
    };
  }

  /** Frees the native resource now. */
  abstract dispose(): void;

  /** The resource has left every scope without being disposed: from now on the GC safety net covers it. Called at most once. */
  protected abstract unscoped(): void;

  /** `using t = ...` frees the resource at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Registers a new resource with the innermost open tidy() scope, or, when none is open, with the GC safety net. */
export function track(t: Tracked): void {
  enter(t, scopes[scopes.length - 1]);
}

/** Removes a resource from the scope that tracks it, if any (it is being disposed). */
export function untrack(t: Tracked): void {
  leave(t);
}

/** Keeps a resource alive past every enclosing tidy(); its owner disposes it. */
export function keep<T extends Tracked>(t: T): T {
  if (leave(t)) enter(t, undefined);
  return t;
}

function collect(value: unknown, into: Set<Tracked>, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (value instanceof Tracked) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, into, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, into, depth + 1);
}

/** Ends a scope (already popped): disposes its resources, except those kept, which move to the enclosing scope. */
function end(scope: Scope, kept: Set<Tracked> | Tracked | null): void {
  for (const t of scope.items) {
    if (t === null) continue;
    release(t);
    if (kept !== null && (kept instanceof Set ? kept.has(t) : kept === t)) track(t);
    else t.dispose();
  }
}

/**
 * Runs fn and disposes every tensor created inside it, except those reachable from its result
 * (a tensor, or arrays, Maps and plain objects holding tensors), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Scope();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    end(scope, null);
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    end(scope, null);
    throw new Error('tidy() needs a synchronous function: tensors cannot be tracked across await');
  }
  // The common results, one tensor or none, need no Set.
  let kept: Set<Tracked> | Tracked | null = null;
  if (result instanceof Tracked) kept = result;
  else if (result !== null && typeof result === 'object') collect(result, (kept = new Set()));
  end(scope, kept);
  return result;
}

/** How many scopes are open (for tests and diagnostics). */
export function scopeDepth(): number {
  return scopes.length;
}
