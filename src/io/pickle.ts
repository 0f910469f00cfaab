// A restricted pickle reader: it builds plain JS values and never executes code. Globals resolve
// only through the caller's allow-list (each a JS function standing in for the Python callable),
// persistent ids only through the caller's loader; anything else is refused.

/** A Python global the caller allows: called by REDUCE/NEWOBJ, optionally given BUILD's state. */
export interface PickleGlobal {
  call(args: unknown[]): unknown;
  build?(obj: unknown, state: unknown): unknown;
}

/** What the reader may build beyond plain values: the allowed globals and persistent ids. */
interface UnpickleOptions {
  /** What the data is, for errors (a file name). */
  what: string;
  /** The value standing for a Python global (a PickleGlobal if it may be called), or undefined to refuse it. */
  findGlobal(module: string, name: string): unknown;
  /** The value of a persistent id (torch.save's storages); without it persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

/** A Python tuple (kept distinct from lists). */
class PyTuple extends Array<unknown> {}

/** A refusal that already names the data; callbacks throw it too, so that it passes through unchanged. */
export class PickleError extends Error {}

/** The value a pickle holds; throws PickleError, naming options.what, for anything refused or malformed. */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  let at = 0;
  try {
    return run(data, options, (p) => {
      at = p;
    });
  } catch (e) {
    if (e instanceof PickleError) throw e;
    // Anything else (a RangeError, invalid UTF-8...) is a malformed pickle too: say so, naming it.
    throw new PickleError(`${options.what}: malformed pickle (at offset ${at})`, { cause: e });
  }
}

/** The machine's state: the bytes and the position in them, the stack, the marks and the memo. */
class Machine {
  pos = 0;
  readonly stack: unknown[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  /** Who made each object that REDUCE/NEWOBJ built, for its BUILD. */
  readonly builders = new WeakMap<object, PickleGlobal>();
  /** Set by STOP. */
  result: { value: unknown } | null = null;
  readonly #view: DataView;
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    readonly data: Uint8Array,
    readonly options: UnpickleOptions,
  ) {
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  fail(problem: string): never {
    throw new PickleError(`${this.options.what}: ${problem}`);
  }

  need(n: number): void {
    if (this.pos + n > this.data.byteLength)
      this.fail(`truncated pickle (needs ${n} more bytes at offset ${this.pos})`);
  }

  u8(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  /** A little-endian integer of 2 or 4 bytes (signed: 4 only), or a big-endian float64. */
  #fixed<T>(n: number, read: (at: number) => T): T {
    this.need(n);
    const v = read(this.pos);
    this.pos += n;
    return v;
  }
  u16 = () => this.#fixed(2, (at) => this.#view.getUint16(at, true));
  u32 = () => this.#fixed(4, (at) => this.#view.getUint32(at, true));
  i32 = () => this.#fixed(4, (at) => this.#view.getInt32(at, true));
  f64 = () => this.#fixed(8, (at) => this.#view.getFloat64(at, false));

  /** A 64-bit length, which cannot exceed the data. */
  u64(): number {
    const v = this.#fixed(8, (at) => this.#view.getBigUint64(at, true));
    if (v > BigInt(this.data.byteLength)) this.fail('length beyond the data');
    return Number(v);
  }

  /** A length given as a signed 32-bit integer. */
  length(what: string): number {
    const n = this.i32();
    if (n < 0) this.fail(`negative ${what} length`);
    return n;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  utf8(b: Uint8Array): string {
    return this.#utf8.decode(b);
  }

  /**
   * True ISO-8859-1, so that a Python 2 str (raw bytes, e.g. a numpy payload) round-trips every
   * byte; the WHATWG 'latin1' label means windows-1252 and may decode 0x80-0x9f differently.
   */
  latin1(b: Uint8Array): string {
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  }

  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated pickle (unterminated line)');
    const s = this.latin1(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  int(s: string): number | bigint {
    if (!/^[-+]?\d+$/.test(s)) this.fail(`bad integer '${s}'`);
    return exactInteger(BigInt(s));
  }

  push(v: unknown): void {
    this.stack.push(v);
  }

  pop(): unknown {
    const mark = this.marks.at(-1);
    if (this.stack.length === 0 || (mark !== undefined && this.stack.length <= mark)) this.fail('stack underflow');
    return this.stack.pop();
  }

  top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  popMark(): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail('MARK expected');
    return this.stack.splice(m);
  }

  resolve(module: unknown, name: unknown): unknown {
    if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs strings');
    const g = this.options.findGlobal(module, name);
    if (g === undefined)
      this.fail(`refusing to load ${module}.${name}: only tensors, numbers, strings and containers are accepted`);
    return g;
  }

  setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) this.fail('SETITEM on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  }

  append(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target) || target instanceof PyTuple) this.fail('APPEND on a non-list');
    // One at a time: spreading a long APPENDS into push() overflows the call stack.
    for (const item of items) target.push(item);
  }

  call(fn: unknown, args: unknown): unknown {
    if (typeof fn !== 'object' || fn === null || typeof (fn as PickleGlobal).call !== 'function')
      this.fail('REDUCE of a value that cannot be called');
    if (!Array.isArray(args)) this.fail('REDUCE arguments are not a tuple');
    const result = (fn as PickleGlobal).call(args);
    if (result !== null && typeof result === 'object') this.builders.set(result, fn as PickleGlobal);
    return result;
  }

  memoKey(op: number): number {
    const key = op === 0x68 ? this.u8() : op === 0x6a ? this.u32() : (this.int(this.line()) as number);
    if (!this.memo.has(key)) this.fail(`memo key ${key} is not defined`);
    return key;
  }
}

/** Two's-complement little-endian bytes as a number, or a bigint beyond the safe integers. */
function signedLE(b: Uint8Array): number | bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b.length && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return exactInteger(v);
}

const exactInteger = (v: bigint) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);

type Handler = (m: Machine, op: number) => void;

/** What each accepted opcode does; any other opcode is refused. */
const opcodes = new Map<number, Handler>([
  [
    0x80,
    (m) => {
      m.u8();
    },
  ], // PROTO
  [
    0x95,
    (m) => {
      m.u64();
    },
  ], // FRAME: framing is transparent here
  [
    0x2e,
    (m) => {
      // STOP
      if (m.stack.length !== 1) m.fail(`pickle ended with ${m.stack.length} values on the stack`);
      m.result = { value: m.stack[0] };
    },
  ],
  [
    0x28,
    (m) => {
      m.marks.push(m.stack.length);
    },
  ], // MARK
  [0x4e, (m) => m.push(null)], // NONE
  [0x88, (m) => m.push(true)], // NEWTRUE
  [0x89, (m) => m.push(false)], // NEWFALSE
  [0x4b, (m) => m.push(m.u8())], // BININT1
  [0x4d, (m) => m.push(m.u16())], // BININT2
  [0x4a, (m) => m.push(m.i32())], // BININT
  [0x8a, (m) => m.push(signedLE(m.bytes(m.u8())))], // LONG1
  [0x8b, (m) => m.push(signedLE(m.bytes(m.length('LONG4'))))], // LONG4
  [
    0x49,
    (m) => {
      // INT (text; 01 and 00 are booleans)
      const s = m.line();
      m.push(s === '01' ? true : s === '00' ? false : m.int(s));
    },
  ],
  [0x4c, (m) => m.push(m.int(m.line().replace(/L$/, '')))], // LONG (text)
  [0x47, (m) => m.push(m.f64())], // BINFLOAT (big-endian)
  [
    0x46,
    (m) => {
      // FLOAT (text)
      const v = Number(m.line());
      if (Number.isNaN(v)) m.fail('bad FLOAT');
      m.push(v);
    },
  ],
  [0x58, (m) => m.push(m.utf8(m.bytes(m.u32())))], // BINUNICODE
  [0x8c, (m) => m.push(m.utf8(m.bytes(m.u8())))], // SHORT_BINUNICODE
  [0x8d, (m) => m.push(m.utf8(m.bytes(m.u64())))], // BINUNICODE8
  [0x56, (m) => m.push(m.line())], // UNICODE (raw-unicode-escape; ASCII in practice)
  [0x54, (m) => m.push(m.latin1(m.bytes(m.length('BINSTRING'))))], // BINSTRING
  [0x55, (m) => m.push(m.latin1(m.bytes(m.u8())))], // SHORT_BINSTRING
  [0x53, (m) => m.push(m.line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'))], // STRING
  [0x42, (m) => m.push(m.bytes(m.u32()))], // BINBYTES
  [0x43, (m) => m.push(m.bytes(m.u8()))], // SHORT_BINBYTES
  [0x8e, (m) => m.push(m.bytes(m.u64()))], // BINBYTES8
  [0x5d, (m) => m.push([])], // EMPTY_LIST
  [0x7d, (m) => m.push(new Map())], // EMPTY_DICT
  [0x29, (m) => m.push(new PyTuple())], // EMPTY_TUPLE
  [0x8f, (m) => m.push(new Set())], // EMPTY_SET
  [0x6c, (m) => m.push(m.popMark())], // LIST
  [0x74, (m) => m.push(PyTuple.from(m.popMark()))], // TUPLE
  [0x85, (m) => m.push(PyTuple.of(m.pop()))], // TUPLE1
  [
    0x86,
    (m) => {
      const b = m.pop();
      m.push(PyTuple.of(m.pop(), b));
    },
  ], // TUPLE2
  [
    0x87,
    (m) => {
      const c = m.pop();
      const b = m.pop();
      m.push(PyTuple.of(m.pop(), b, c));
    },
  ], // TUPLE3
  [
    0x64,
    (m) => {
      // DICT
      const d = new Map();
      m.setItems(d, m.popMark());
      m.push(d);
    },
  ],
  [
    0x61,
    (m) => {
      const v = m.pop();
      m.append(m.top(), [v]);
    },
  ], // APPEND
  [
    0x65,
    (m) => {
      const items = m.popMark();
      m.append(m.top(), items);
    },
  ], // APPENDS
  [
    0x73,
    (m) => {
      const v = m.pop();
      const k = m.pop();
      m.setItems(m.top(), [k, v]);
    },
  ], // SETITEM
  [
    0x75,
    (m) => {
      const items = m.popMark();
      m.setItems(m.top(), items);
    },
  ], // SETITEMS
  [
    0x90,
    (m) => {
      // ADDITEMS
      const items = m.popMark();
      const s = m.top();
      if (!(s instanceof Set)) m.fail('ADDITEMS on a non-set');
      for (const i of items) (s as Set<unknown>).add(i);
    },
  ],
  [0x91, (m) => m.push(new Set(m.popMark()))], // FROZENSET
  [
    0x30,
    (m) => {
      m.pop();
    },
  ], // POP
  [
    0x31,
    (m) => {
      m.popMark();
    },
  ], // POP_MARK
  [0x32, (m) => m.push(m.top())], // DUP
  [
    0x71,
    (m) => {
      m.memo.set(m.u8(), m.top());
    },
  ], // BINPUT
  [
    0x72,
    (m) => {
      m.memo.set(m.u32(), m.top());
    },
  ], // LONG_BINPUT
  [
    0x70,
    (m) => {
      m.memo.set(m.int(m.line()) as number, m.top());
    },
  ], // PUT
  [
    0x94,
    (m) => {
      m.memo.set(m.memo.size, m.top());
    },
  ], // MEMOIZE
  [0x68, (m, op) => m.push(m.memo.get(m.memoKey(op)))], // BINGET
  [0x6a, (m, op) => m.push(m.memo.get(m.memoKey(op)))], // LONG_BINGET
  [0x67, (m, op) => m.push(m.memo.get(m.memoKey(op)))], // GET
  [
    0x63,
    (m) => {
      const module = m.line();
      m.push(m.resolve(module, m.line()));
    },
  ], // GLOBAL
  [
    0x93,
    (m) => {
      const name = m.pop();
      m.push(m.resolve(m.pop(), name));
    },
  ], // STACK_GLOBAL
  [
    0x52,
    (m) => {
      const args = m.pop();
      m.push(m.call(m.pop(), args));
    },
  ], // REDUCE
  [
    0x81,
    (m) => {
      const args = m.pop();
      m.push(m.call(m.pop(), args));
    },
  ], // NEWOBJ
  [
    0x62,
    (m) => {
      // BUILD
      const state = m.pop();
      const obj = m.top();
      const builder = obj !== null && typeof obj === 'object' ? m.builders.get(obj) : undefined;
      if (!builder?.build) m.fail('BUILD of an object that takes no state');
      m.stack[m.stack.length - 1] = builder!.build!(obj, state);
    },
  ],
  [
    0x51,
    (m) => {
      // BINPERSID
      const pid = m.pop();
      if (!m.options.persistentLoad) m.fail('persistent ids are not accepted here');
      m.push(m.options.persistentLoad!(pid));
    },
  ],
]);

function run(data: Uint8Array, options: UnpickleOptions, opcodeAt: (pos: number) => void): unknown {
  const m = new Machine(data, options);
  while (!m.result) {
    opcodeAt(m.pos);
    const op = m.u8();
    const handler = opcodes.get(op);
    if (!handler) m.fail(`unsupported or unsafe pickle opcode 0x${op.toString(16)} at offset ${m.pos - 1}`);
    handler!(m, op);
  }
  return m.result.value;
}
