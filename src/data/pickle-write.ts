// Writes CIFAR-style pickles the way the official python archives were made (Python 2, protocol
// 2): a dict with byte-string keys, lists of ints and uint8 numpy arrays.

/** A value encodePickle writes: an int, a str (latin-1), bytes, a uint8 numpy array, or a list of these. */
export type PickleOut = number | string | Uint8Array | { shape: number[]; u8: Uint8Array } | PickleOut[];

function int(v: number): Uint8Array {
  if (v >= 0 && v < 256) return Uint8Array.of(0x4b, v); // BININT1
  const b = new Uint8Array(5);
  b[0] = 0x4a; // BININT
  new DataView(b.buffer).setInt32(1, v, true);
  return b;
}

function str(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length < 256) return [Uint8Array.of(0x55, bytes.length), bytes]; // SHORT_BINSTRING
  const h = new Uint8Array(5);
  h[0] = 0x54; // BINSTRING
  new DataView(h.buffer).setUint32(1, bytes.length, true);
  return [h, bytes];
}

const latin1 = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'ascii'));

function value(v: PickleOut): Uint8Array[] {
  if (typeof v === 'number') return [int(v)];
  if (typeof v === 'string') return str(latin1(v));
  if (v instanceof Uint8Array) return str(v);
  if (Array.isArray(v)) return [Uint8Array.of(0x5d, 0x28), ...v.flatMap(value), Uint8Array.of(0x65)]; // EMPTY_LIST MARK ... APPENDS
  // numpy.core.multiarray._reconstruct(ndarray, (0,), 'b'), then BUILD (1, shape, dtype('u1'), False, raw)
  return [
    ascii('cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n'),
    int(0),
    Uint8Array.of(0x85),
    ...str(ascii('b')),
    Uint8Array.of(0x87, 0x52),
    Uint8Array.of(0x28),
    int(1),
    Uint8Array.of(0x28),
    ...v.shape.map(int),
    Uint8Array.of(0x74),
    ascii('cnumpy\ndtype\n'),
    ...str(ascii('u1')),
    int(0),
    int(1),
    Uint8Array.of(0x87, 0x52),
    Uint8Array.of(0x28),
    int(3),
    ...str(ascii('|')),
    ascii('NNN'),
    int(-1),
    int(-1),
    int(0),
    Uint8Array.of(0x74, 0x62),
    Uint8Array.of(0x89),
    ...str(v.u8),
    Uint8Array.of(0x74, 0x62),
  ];
}

/** A protocol-2 pickle of a dict with the given keys (written as Python 2 str). */
export function encodePickle(dict: Record<string, PickleOut>): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0x80, 0x02, 0x7d, 0x28)];
  for (const [k, v] of Object.entries(dict)) parts.push(...str(latin1(k)), ...value(v));
  parts.push(Uint8Array.of(0x75, 0x2e)); // SETITEMS STOP
  return Buffer.concat(parts);
}
