// Data types: names, libtorch's ScalarType codes, and the TypedArrays that carry their values.

/** Element types a tensor may have, by PyTorch's names. */
export type DType =
  | 'uint8'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'bool'
  | 'bfloat16';

const codes: Record<DType, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};
const names = new Map<number, DType>(Object.entries(codes).map(([name, code]) => [code, name as DType]));

/** libtorch's ScalarType code of a dtype; throws for an unknown name. */
export function dtypeCode(dtype: DType): number {
  const code = codes[dtype];
  if (code === undefined) throw new Error(`unknown dtype '${String(dtype)}' (known: ${Object.keys(codes).join(', ')})`);
  return code;
}

/** The dtype of a ScalarType code; throws for a type micronet does not expose. */
export function dtypeName(code: number): DType {
  const name = names.get(code);
  if (name === undefined) throw new Error(`tensor has a dtype (ScalarType ${code}) that micronet does not expose`);
  return name;
}

/** Bytes per element of each dtype. */
export const dtypeBytes: Readonly<Record<DType, number>> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  float16: 2,
  bfloat16: 2,
  float32: 4,
  float64: 8,
};

/** True for float16, bfloat16, float32 and float64. */
export function isFloatingPoint(dtype: DType): boolean {
  return dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float32' || dtype === 'float64';
}

/** The TypedArray holding a dtype's values; float16 and bfloat16 come as their raw 16-bit patterns. */
export interface TypedArrayOf {
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  bool: Uint8Array;
  bfloat16: Uint16Array;
}

const arrayTypes = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  bool: Uint8Array,
  bfloat16: Uint16Array,
} as const;

/** A TypedArray of the dtype's kind over a buffer (no copy). */
export function typedArrayFor<D extends DType>(dtype: D, buffer: ArrayBuffer): TypedArrayOf[D] {
  return new arrayTypes[dtype](buffer) as TypedArrayOf[D];
}

/** The dtype a TypedArray stands for when no dtype is named (Uint16Array is ambiguous and refused). */
export function dtypeOfArray(data: ArrayBufferView): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  throw new Error(
    `cannot infer a dtype from ${data.constructor.name}: pass { dtype } (Uint16Array holds float16 or bfloat16 bits)`,
  );
}
