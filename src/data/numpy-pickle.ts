// Reads the pickles of CIFAR's python archives with the generic restricted unpickler. Those files
// hold dicts of lists, numbers, strings and numpy arrays, so the only globals stood in for here
// are numpy's array reconstruction (_reconstruct, ndarray, dtype) and _codecs.encode(text,
// 'latin1'), which is how Python 3 writes bytes in protocol-2 pickles. Anything else is refused.
import { PickleError, unpickle, type PickleGlobal } from '../io/pickle.js';

/** A numpy array: dtype such as 'u1' or 'i8' (byte order removed), shape, and its elements. */
export class NdArray {
  dtype = '';
  shape: number[] = [];
  data:
    | Uint8Array
    | Int8Array
    | Uint16Array
    | Int16Array
    | Uint32Array
    | Int32Array
    | BigInt64Array
    | Float32Array
    | Float64Array = new Uint8Array(0);
}

class Dtype {
  order = '|';
  constructor(readonly descr: string) {}
}

const TYPED: Record<string, [number, (b: ArrayBuffer, o: number, n: number) => NdArray['data']]> = {
  u1: [1, (b, o, n) => new Uint8Array(b, o, n)],
  i1: [1, (b, o, n) => new Int8Array(b, o, n)],
  u2: [2, (b, o, n) => new Uint16Array(b, o, n)],
  i2: [2, (b, o, n) => new Int16Array(b, o, n)],
  u4: [4, (b, o, n) => new Uint32Array(b, o, n)],
  i4: [4, (b, o, n) => new Int32Array(b, o, n)],
  i8: [8, (b, o, n) => new BigInt64Array(b, o, n)],
  f4: [4, (b, o, n) => new Float32Array(b, o, n)],
  f8: [8, (b, o, n) => new Float64Array(b, o, n)],
};

/**
 * Python 2 str arrives as a latin1 string (as with Python's `pickle.load(f, encoding='latin1')`),
 * Python 3 bytes as bytes; numpy accepts either as raw data, and so does this.
 */
function rawBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new Uint8Array(Buffer.from(v, 'latin1'));
  return undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : undefined;
}

/** The stand-ins for one file; `fail` names the file. */
function numpyGlobals(fail: (why: string) => never): Record<string, unknown> {
  const ndarray = Object.freeze({ numpy: 'ndarray' }); // only ever an argument of _reconstruct

  const reconstruct: PickleGlobal = {
    call([cls]) {
      if (cls !== ndarray) fail('refusing _reconstruct of anything but numpy.ndarray');
      return new NdArray();
    },
    build(obj, state) {
      const s = state as unknown[];
      if (!(obj instanceof NdArray) || !Array.isArray(s) || s.length < 5)
        return fail('malformed numpy array state in pickle');
      const [, shape, dtype, fortran, payload] = s;
      if (!(dtype instanceof Dtype)) return fail('malformed numpy array state in pickle');
      const kind = dtype.descr.replace(/^[<|=]/, '');
      const t = TYPED[kind];
      if (!t || dtype.order === '>' || dtype.descr.startsWith('>'))
        return fail(`unsupported numpy dtype '${dtype.order}${dtype.descr}' in pickle`);
      if (fortran === true || fortran === 1) return fail('unsupported Fortran-ordered numpy array in pickle');
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        return fail('malformed numpy shape in pickle');
      const raw = rawBytes(payload);
      if (!raw) return fail('unsupported numpy array payload in pickle (object arrays are not read)');
      const count = (shape as number[]).reduce((x, y) => x * y, 1);
      if (raw.length !== count * t[0])
        return fail(`numpy array of shape [${shape.join(', ')}] holds ${raw.length} bytes, expected ${count * t[0]}`);
      const aligned = raw.byteOffset % t[0] === 0 ? raw : raw.slice();
      obj.dtype = kind;
      obj.shape = [...(shape as number[])];
      obj.data = t[1](aligned.buffer as ArrayBuffer, aligned.byteOffset, count);
      return obj;
    },
  };

  const dtype: PickleGlobal = {
    call([descr]) {
      const d = text(descr);
      return d === undefined ? fail('malformed numpy dtype in pickle') : new Dtype(d);
    },
    build(obj, state) {
      const order = Array.isArray(state) ? text(state[1]) : undefined;
      if (!(obj instanceof Dtype) || order === undefined) return fail('malformed numpy dtype state in pickle');
      obj.order = order;
      return obj;
    },
  };

  const encode: PickleGlobal = {
    call([s, encoding]) {
      if (typeof s !== 'string' || encoding !== 'latin1' || /[^\0-\xff]/.test(s))
        return fail('refusing _codecs.encode other than (text, "latin1")');
      return new Uint8Array(Buffer.from(s, 'latin1'));
    },
  };

  return {
    'numpy.core.multiarray._reconstruct': reconstruct,
    'numpy._core.multiarray._reconstruct': reconstruct,
    'numpy.ndarray': ndarray,
    'numpy.dtype': dtype,
    '_codecs.encode': encode,
  };
}

/**
 * Parses one pickle of plain data and numpy arrays; `file` names it in errors. Dicts come out
 * as Maps, tuples as PyTuples, numpy arrays as NdArrays.
 */
export function readPickle(bytes: Uint8Array, file: string): unknown {
  const fail = (why: string): never => {
    throw new PickleError(`${file}: ${why}`);
  };
  const globals = numpyGlobals(fail);
  return unpickle(bytes, {
    what: file,
    findGlobal: (module, name) => {
      const full = `${module}.${name}`;
      return Object.hasOwn(globals, full)
        ? globals[full]
        : fail(`refusing pickle global '${full}' (only numpy arrays, lists, dicts, numbers and strings are read)`);
    },
  });
}
