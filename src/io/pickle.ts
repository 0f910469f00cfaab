// A restricted pickle reader: it builds plain JS values and never executes code. Globals resolve
// only through the caller's allow-list (each a JS function standing in for the Python callable),
// persistent ids only through the caller's loader; anything else is refused.

/** A Python global the caller allows: called by REDUCE/NEWOBJ, optionally given BUILD's state. */
export interface PickleGlobal {
  call(args: unknown[]): unknown;
  build?(obj: unknown, state: unknown): unknown;
}

/** What the reader may build beyond plain values: the allowed globals and persistent ids. */
export interface UnpickleOptions {
  /** What the data is, for errors (a file name). */
  what: string;
  /** The value standing for a Python global (a PickleGlobal if it may be called), or undefined to refuse it. */
  findGlobal(module: string, name: string): unknown;
  /** The value of a persistent id (torch.save's storages); without it persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

/** A Python dict with non-string keys or order that matters; string keys become a Map too. */
export type PyDict = Map<unknown, unknown>;

/** A Python tuple (kept distinct from lists). */
export class PyTuple extends Array<unknown> {}

/** A refusal that already names the data; callbacks throw it too, so that it passes through unchanged. */
export class PickleError extends Error {}

/** The value a pickle holds; throws PickleError, naming options.what, for anything refused or malformed. */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  let at = 0;
  try {
    return run(data, options, (p) => { at = p; });
  } catch (e) {
    if (e instanceof PickleError) throw e;
    // Anything else (a RangeError, invalid UTF-8...) is a malformed pickle too: say so, naming it.
    throw new PickleError(`${options.what}: malformed pickle (at offset ${at})`, { cause: e });
  }
}

function run(data: Uint8Array, options: UnpickleOptions, opcodeAt: (pos: number) => void): unknown {
  const fail = (problem: string): never => { throw new PickleError(`${options.what}: ${problem}`); };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  // True ISO-8859-1, so that a Python 2 str (raw bytes, e.g. a numpy payload) round-trips every
  // byte; the WHATWG 'latin1' label means windows-1252 and may decode 0x80-0x9f differently.
  const latin1 = { decode: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1') };
  let pos = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number) => { if (pos + n > data.byteLength) fail(`truncated pickle (needs ${n} more bytes at offset ${pos})`); };
  const u8 = () => { need(1); return data[pos++]!; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => { need(8); const v = view.getBigUint64(pos, true); pos += 8; if (v > BigInt(data.byteLength)) fail('length beyond the data'); return Number(v); };
  const bytes = (n: number) => { need(n); const b = data.subarray(pos, pos + n); pos += n; return b; };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('truncated pickle (unterminated line)');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => { if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) fail('stack underflow'); return stack.pop(); };
  const top = () => { if (stack.length === 0) fail('stack underflow'); return stack[stack.length - 1]; };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) fail('MARK expected');
    return stack.splice(m!);
  };
  const signedLE = (b: Uint8Array) => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b.length && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  };
  const resolve = (module: string, name: string) => {
    const g = options.findGlobal(module, name);
    if (g === undefined) fail(`refusing to load ${module}.${name}: only tensors, numbers, strings and containers are accepted`);
    return g!;
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail('SETITEM on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) (target as PyDict).set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target) || target instanceof PyTuple) fail('APPEND on a non-list');
    // One at a time: spreading a long APPENDS into push() overflows the call stack.
    for (const item of items) (target as unknown[]).push(item);
  };
  const call = (fn: unknown, args: unknown) => {
    if (typeof fn !== 'object' || fn === null || typeof (fn as PickleGlobal).call !== 'function') fail('REDUCE of a value that cannot be called');
    if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
    const result = (fn as PickleGlobal).call(args as unknown[]);
    if (result !== null && typeof result === 'object') builders.set(result, fn as PickleGlobal);
    return result;
  };
  const builders = new WeakMap<object, PickleGlobal>();

  for (;;) {
    opcodeAt(pos);
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: framing is transparent here
      case 0x2e: { // STOP
        if (stack.length !== 1) fail(`pickle ended with ${stack.length} values on the stack`);
        return stack[0];
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: stack.push(signedLE(bytes(u8()))); break; // LONG1
      case 0x8b: { const n = i32(); if (n < 0) fail('negative LONG4 length'); stack.push(signedLE(bytes(n))); break; } // LONG4
      case 0x49: { // INT (text)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : parseIntStrict(s, fail));
        break;
      }
      case 0x4c: stack.push(parseIntStrict(line().replace(/L$/, ''), fail)); break; // LONG (text)
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x46: { const v = Number(line()); if (Number.isNaN(v)) fail('bad FLOAT'); stack.push(v); break; } // FLOAT
      case 0x58: stack.push(text.decode(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(text.decode(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text.decode(bytes(u64()))); break; // BINUNICODE8
      case 0x56: stack.push(line()); break; // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x54: { const n = i32(); if (n < 0) fail('negative BINSTRING length'); stack.push(latin1.decode(bytes(n))); break; } // BINSTRING
      case 0x55: stack.push(latin1.decode(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x53: stack.push(line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2')); break; // STRING
      case 0x42: stack.push(bytes(u32())); break; // BINBYTES
      case 0x43: stack.push(bytes(u8())); break; // SHORT_BINBYTES
      case 0x8e: stack.push(bytes(u64())); break; // BINBYTES8
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x29: stack.push(new PyTuple()); break; // EMPTY_TUPLE
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x74: stack.push(PyTuple.from(popMark()) as PyTuple); break; // TUPLE
      case 0x85: stack.push(PyTuple.of(pop()) as PyTuple); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(PyTuple.of(a, b) as PyTuple); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(PyTuple.of(a, b, c) as PyTuple); break; } // TUPLE3
      case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x90: { const items = popMark(); const s = top(); if (!(s instanceof Set)) fail('ADDITEMS on a non-set'); items.forEach((i) => (s as Set<unknown>).add(i)); break; } // ADDITEMS
      case 0x91: stack.push(new Set(popMark())); break; // FROZENSET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x70: memo.set(parseIntStrict(line(), fail) as number, top()); break; // PUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: case 0x67: { // BINGET, LONG_BINGET, GET
        const key = op === 0x68 ? u8() : op === 0x6a ? u32() : parseIntStrict(line(), fail) as number;
        if (!memo.has(key)) fail(`memo key ${key} is not defined`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(resolve(module, name)); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs strings'); stack.push(resolve(module as string, name as string)); break; }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        const builder = obj !== null && typeof obj === 'object' ? builders.get(obj) : undefined;
        if (!builder?.build) fail('BUILD of an object that takes no state');
        stack[stack.length - 1] = builder!.build!(obj, state);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent ids are not accepted here');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default:
        fail(`unsupported or unsafe pickle opcode 0x${op.toString(16)} at offset ${pos - 1}`);
    }
  }
}

function parseIntStrict(s: string, fail: (p: string) => never): number | bigint {
  if (!/^[-+]?\d+$/.test(s)) fail(`bad integer '${s}'`);
  const v = BigInt(s);
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}
