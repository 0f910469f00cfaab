// A restricted pickle reader for the CIFAR python archives: dicts of lists, ints, strings, bytes
// and numpy arrays. It builds values itself and never runs code: the only globals accepted are
// numpy's array reconstruction (_reconstruct, ndarray, dtype) and _codecs.encode(text, 'latin1'),
// which is how Python 3 writes bytes in protocol-2 pickles. Anything else is refused.

export type PickleValue = null | boolean | number | bigint | string | Uint8Array | NdArray | PickleValue[] | PickleDict;
export interface PickleDict { [key: string]: PickleValue }

/** A numpy array: dtype string such as 'u1' or '<i8', shape, and its elements. */
export class NdArray {
  dtype = '';
  shape: number[] = [];
  data: Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigInt64Array | Float32Array | Float64Array = new Uint8Array(0);
}

class Global { constructor(readonly name: string) {} }
class Dtype { constructor(public descr: string, public order = '|') {} }
const MARK = Symbol('mark');

const ALLOWED = new Set([
  'numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct',
  'numpy.ndarray', 'numpy.dtype', '_codecs.encode',
]);

const TYPED: Record<string, [number, (b: ArrayBuffer, o: number, n: number) => NdArray['data']]> = {
  u1: [1, (b, o, n) => new Uint8Array(b, o, n)], i1: [1, (b, o, n) => new Int8Array(b, o, n)],
  u2: [2, (b, o, n) => new Uint16Array(b, o, n)], i2: [2, (b, o, n) => new Int16Array(b, o, n)],
  u4: [4, (b, o, n) => new Uint32Array(b, o, n)], i4: [4, (b, o, n) => new Int32Array(b, o, n)],
  i8: [8, (b, o, n) => new BigInt64Array(b, o, n)], f4: [4, (b, o, n) => new Float32Array(b, o, n)],
  f8: [8, (b, o, n) => new Float64Array(b, o, n)],
};

type Item = PickleValue | Global | Dtype | typeof MARK;

/** Parses one pickle; `file` names it in errors. */
export function readPickle(bytes: Uint8Array, file: string): PickleValue {
  const fail = (why: string): never => { throw new Error(`${file}: ${why}`); };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: Item[] = [];
  const marks: number[] = [];
  const memo: Item[] = [];
  let p = 0;
  const need = (n: number) => { if (p + n > bytes.length) fail(`truncated pickle (needs ${n} bytes at ${p})`); };
  const u8 = () => { need(1); return bytes[p++]!; };
  const u32 = () => { need(4); const v = view.getUint32(p, true); p += 4; return v; };
  const u64 = () => { need(8); const v = Number(view.getBigUint64(p, true)); p += 8; return v; };
  const take = (n: number) => { need(n); const b = bytes.subarray(p, p + n); p += n; return b; };
  const line = () => { const end = bytes.indexOf(10, p); if (end < 0) fail('truncated pickle (unterminated line)'); const s = Buffer.from(bytes.subarray(p, end)).toString('latin1'); p = end + 1; return s; };
  const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  const pop = (): Item => { if (stack.length === 0) fail('malformed pickle (stack underflow)'); return stack.pop()!; };
  const popMark = (): Item[] => { const m = marks.pop(); if (m === undefined) fail('malformed pickle (no mark)'); return stack.splice(m!); };
  const top = (): Item => { if (stack.length === 0) fail('malformed pickle (empty stack)'); return stack[stack.length - 1]!; };
  const key = (k: Item): string => typeof k === 'string' ? k : k instanceof Uint8Array ? Buffer.from(k).toString('latin1') : typeof k === 'number' ? String(k) : fail('unsupported dict key in pickle');
  const value = (v: Item): PickleValue => v instanceof Global || v instanceof Dtype || v === MARK ? fail('malformed pickle (a bare global used as a value)') : v;
  const setItems = (dict: Item, items: Item[]) => {
    if (!isDict(dict)) fail('malformed pickle (SETITEM on a non-dict)');
    for (let i = 0; i + 1 < items.length; i += 2) (dict as PickleDict)[key(items[i]!)] = value(items[i + 1]!);
  };
  const appendTo = (list: Item, items: Item[]) => { if (!Array.isArray(list)) fail('malformed pickle (APPEND on a non-list)'); (list as PickleValue[]).push(...items.map(value)); };
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    if (!ALLOWED.has(full)) fail(`refusing pickle global '${full}' (only numpy arrays, lists, dicts, numbers and strings are read)`);
    stack.push(new Global(full));
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break;  // PROTO
      case 0x95: u64(); break;  // FRAME
      case 0x2e: { const v = pop(); return value(v); }  // STOP
      case 0x28: marks.push(stack.length); break;  // MARK
      case 0x7d: stack.push(Object.create(null) as PickleDict); break;  // EMPTY_DICT
      case 0x5d: stack.push([]); break;  // EMPTY_LIST
      case 0x29: stack.push([]); break;  // EMPTY_TUPLE (tuples are read as arrays)
      case 0x4e: stack.push(null); break;  // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(u8()); break;  // BININT1
      case 0x4d: { need(2); stack.push(view.getUint16(p, true)); p += 2; break; }  // BININT2
      case 0x4a: { need(4); stack.push(view.getInt32(p, true)); p += 4; break; }  // BININT
      case 0x8a: { const n = u8(); const b = take(n); let v = 0n; for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!); if (n && b[n - 1]! >= 0x80) v -= 1n << BigInt(8 * n); stack.push(Number.isSafeInteger(Number(v)) ? Number(v) : v); break; }  // LONG1
      case 0x49: { const s = line(); stack.push(s === '00' ? false : s === '01' ? true : Number(s)); break; }  // INT
      case 0x4c: stack.push(Number(line().replace(/L$/, ''))); break;  // LONG
      case 0x47: { need(8); stack.push(view.getFloat64(p, false)); p += 8; break; }  // BINFLOAT
      case 0x55: stack.push(take(u8()).slice()); break;  // SHORT_BINSTRING (Python 2 str: bytes)
      case 0x54: stack.push(take(u32()).slice()); break;  // BINSTRING
      case 0x43: stack.push(take(u8()).slice()); break;  // SHORT_BINBYTES
      case 0x42: stack.push(take(u32()).slice()); break;  // BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break;  // BINBYTES8
      case 0x8c: stack.push(utf8(take(u8()))); break;  // SHORT_BINUNICODE
      case 0x58: stack.push(utf8(take(u32()))); break;  // BINUNICODE
      case 0x8d: stack.push(utf8(take(u64()))); break;  // BINUNICODE8
      case 0x71: memo[u8()] = top(); break;  // BINPUT
      case 0x72: memo[u32()] = top(); break;  // LONG_BINPUT
      case 0x94: memo.push(top()); break;  // MEMOIZE
      case 0x68: case 0x6a: { const i = op === 0x68 ? u8() : u32(); if (!(i in memo)) fail(`malformed pickle (memo ${i} unset)`); stack.push(memo[i]!); break; }  // BINGET, LONG_BINGET
      case 0x74: stack.push(popMark() as PickleValue[]); break;  // TUPLE (may hold numpy globals, checked where used)
      case 0x85: stack.push([pop()] as PickleValue[]); break;  // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b] as PickleValue[]); break; }
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c] as PickleValue[]); break; }
      case 0x6c: stack.push(popMark().map(value)); break;  // LIST
      case 0x61: { const v = pop(); appendTo(top(), [v]); break; }  // APPEND
      case 0x65: { const items = popMark(); appendTo(top(), items); break; }  // APPENDS
      case 0x64: { const items = popMark(); const d = Object.create(null) as PickleDict; setItems(d, items); stack.push(d); break; }  // DICT
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }  // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; }  // SETITEMS
      case 0x63: { const module = line(); global(module, line()); break; }  // GLOBAL
      case 0x93: { const name = pop(), module = pop(); if (typeof module !== 'string' || typeof name !== 'string') fail('malformed pickle (STACK_GLOBAL)'); global(module as string, name as string); break; }
      case 0x52: { const args = pop(), fn = pop(); stack.push(reduce(fn, args, fail)); break; }  // REDUCE
      case 0x62: { const state = pop(); build(top(), state, fail); break; }  // BUILD
      default: fail(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1} (only plain data and numpy arrays are read)`);
    }
  }
}

function isDict(v: Item): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof NdArray) && !(v instanceof Global) && !(v instanceof Dtype);
}

function reduce(fn: Item, args: Item, fail: (why: string) => never): Item {
  if (!(fn instanceof Global) || !Array.isArray(args)) return fail('malformed pickle (REDUCE)');
  const a = args as Item[];
  switch (fn.name) {
    case '_codecs.encode':
      if (typeof a[0] !== 'string' || a[1] !== 'latin1') return fail('refusing _codecs.encode other than (text, "latin1")');
      return Uint8Array.from(a[0], (ch) => ch.charCodeAt(0));
    case 'numpy.dtype': {
      const d = a[0] instanceof Uint8Array ? Buffer.from(a[0]).toString('latin1') : a[0];
      if (typeof d !== 'string') return fail('malformed numpy dtype in pickle');
      return new Dtype(d);
    }
    case 'numpy.core.multiarray._reconstruct': case 'numpy._core.multiarray._reconstruct':
      if (!(a[0] instanceof Global) || a[0].name !== 'numpy.ndarray') return fail('refusing _reconstruct of anything but numpy.ndarray');
      return new NdArray();
    default: return fail(`refusing to call ${fn.name}`);
  }
}

function build(target: Item, state: Item, fail: (why: string) => never): void {
  const s = state as Item[];
  if (target instanceof Dtype) {
    if (!Array.isArray(s) || typeof s[1] !== 'string' && !(s[1] instanceof Uint8Array)) fail('malformed numpy dtype state in pickle');
    target.order = s[1] instanceof Uint8Array ? Buffer.from(s[1]).toString('latin1') : s[1] as string;
    return;
  }
  if (!(target instanceof NdArray) || !Array.isArray(s) || s.length < 5) return fail('malformed pickle (BUILD on something that is not a numpy array)');
  const [, shape, dtype, fortran, raw] = s;
  if (!(dtype instanceof Dtype)) return fail('malformed numpy array state in pickle');
  const kind = dtype.descr.replace(/^[<|=]/, '');
  const t = TYPED[kind];
  if (!t || dtype.order === '>' || dtype.descr.startsWith('>')) return fail(`unsupported numpy dtype '${dtype.order}${dtype.descr}' in pickle`);
  if (fortran === true || fortran === 1) return fail('unsupported Fortran-ordered numpy array in pickle');
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number')) return fail('malformed numpy shape in pickle');
  if (!(raw instanceof Uint8Array)) return fail('unsupported numpy array payload in pickle (object arrays are not read)');
  const count = (shape as number[]).reduce((x, y) => x * y, 1);
  if (raw.length !== count * t[0]) return fail(`numpy array of shape [${shape.join(', ')}] holds ${raw.length} bytes, expected ${count * t[0]}`);
  const aligned = raw.byteOffset % t[0] === 0 ? raw : raw.slice();
  target.dtype = kind;
  target.shape = shape as number[];
  target.data = t[1](aligned.buffer as ArrayBuffer, aligned.byteOffset, count);
}
