// Tensors made from JS data or filled by rule.
import { dtypeBytes, dtypeCode, dtypeOfArray, type DType } from './dtype.js';
import { native } from './native.js';
import { op } from './ops.js';
import { callTensor, Tensor, type Device, type Shape } from './tensor.js';

/** Options of the tensor factories: dtype (each factory has its default), device (default CPU), autograd. */
export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

/** A number, or arrays of them nested to any depth (rectangular): tensor()'s JS input. */
type NestedNumbers = number | readonly NestedNumbers[];

/** Moves a CPU-made tensor to options.device and turns on requiresGrad when asked (exported as applyTensorOptions). */
function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.device && options.device !== 'cpu' && t.device === 'cpu') {
    const moved = t.to(options.device);
    t.dispose();
    t = moved;
  }
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

function shapeOfNested(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let level: NestedNumbers = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = (level as readonly NestedNumbers[])[0] ?? 0;
  }
  return shape;
}

function checkShape(shape: Shape, numel: number, where: string): void {
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0) throw new Error(`${where}: invalid shape [${shape.join(', ')}]`);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (expected !== numel)
    throw new Error(`${where}: ${numel} values do not fill shape [${shape.join(', ')}] (${expected} elements)`);
}

/**
 * A tensor from a TypedArray (one copy; dtype inferred from the array unless given; shape defaults
 * to 1-d) or from nested number arrays (float32 unless a dtype is given).
 */
export function tensor(data: ArrayBufferView | NestedNumbers, options: TensorOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const dtype = options.dtype ?? dtypeOfArray(data);
    const shape = options.shape ?? [data.byteLength / dtypeBytes[dtype]];
    return finish(new Tensor(native.fromBuffer(data, shape, dtypeCode(dtype))), options);
  }
  const shape = options.shape ?? shapeOfNested(data);
  const flat = Array.isArray(data)
    ? ((data as readonly NestedNumbers[]).flat(Infinity as 1) as number[])
    : [data as number];
  checkShape(shape, flat.length, 'tensor()');
  const f64 = new Float64Array(flat);
  const t = new Tensor(native.fromBuffer(f64, shape, dtypeCode('float64')));
  const dtype = options.dtype ?? 'float32';
  if (dtype === 'float64') return finish(t, options);
  const cast = t.to(dtype);
  t.dispose();
  return finish(cast, options);
}

/** Where factories put tensors when the options name no device: the CPU, or the meta device inside shapesOnly. */
let defaultDevice: Device | null = null;

/**
 * Runs fn with the factories making tensors on the meta device: shapes and dtypes without memory,
 * so that a model described by an untrusted file is sized before it is built. A tensor made from
 * data (tensor()) is still a real one.
 */
export function shapesOnly<R>(fn: () => R): R {
  const previous = defaultDevice;
  defaultDevice = 'meta' as Device;
  try {
    return fn();
  } finally {
    defaultDevice = previous;
  }
}

function factory(
  name: string,
  shape: Shape,
  extra: (number | null)[],
  options: TensorOptions,
  defaultDtype: DType,
): Tensor {
  const dtype = dtypeCode(options.dtype ?? defaultDtype);
  const t = callTensor(op(name), shape, ...extra, dtype, null, options.device ?? defaultDevice, null);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** A tensor of zeros (float32 unless a dtype is given). */
export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return factory('zeros', shape, [], options, 'float32');
}

/** A tensor of ones (float32 unless a dtype is given). */
export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return factory('ones', shape, [], options, 'float32');
}

/** A tensor filled with value (float32 unless a dtype is given). */
export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  return factory('full', shape, [value], options, 'float32');
}

/** Values start, start+step, ... below end; int64 when all arguments are integers, as in PyTorch. */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const integral = [start, end, step].every(Number.isInteger);
  const dtype = dtypeCode(options.dtype ?? (integral ? 'int64' : 'float32'));
  const t = callTensor(op('arange.start_step'), start, end, step, dtype, null, options.device ?? defaultDevice, null);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** An n x m identity matrix (float32 unless a dtype is given). */
export function eye(n: number, m: number = n, options: TensorOptions = {}): Tensor {
  const t = callTensor(
    op('eye.m'),
    n,
    m,
    dtypeCode(options.dtype ?? 'float32'),
    null,
    options.device ?? defaultDevice,
    null,
  );
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Zeros of t's shape, dtype and device, unless the options say otherwise. */
export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device, ...options });
}

/** Ones of t's shape, dtype and device, unless the options say otherwise. */
export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return ones(t.shape, { dtype: t.dtype, device: t.device, ...options });
}

export { finish as applyTensorOptions };
