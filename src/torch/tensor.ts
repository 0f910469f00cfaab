// The Tensor class: a handle on a libtorch tensor with PyTorch's semantics.
import { dtypeCode, dtypeName, typedArrayFor, type DType, type TypedArrayOf } from './dtype.js';
import { native, type GeneratorHandle, type Handle } from './native.js';
import { op, rawCall, type Op, type OpArg } from './ops.js';
import { track, Tracked, untrack } from './scope.js';

/** Where a tensor lives: the CPU, or a CUDA device (the current one, or by index). */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
/** Element order of a 4-d tensor: NCHW ('contiguous'), NHWC ('channels_last'), or the source's ('preserve', for copies). */
export type MemoryFormat = 'contiguous' | 'channels_last' | 'preserve';
/** The native codes of the memory formats (c10::MemoryFormat's values). */
const memoryFormatCode: Record<MemoryFormat, number> = { contiguous: 0, preserve: 1, channels_last: 2 };

/** Sizes of a tensor's dimensions, outermost first. */
export type Shape = readonly number[];
/** An operand: a tensor, or a number taken as a scalar. */
export type TensorOrNumber = Tensor | number;

// Tensor results come back as handle numbers: each call site says what it expects, and anything
// unexpected is freed before the error is raised.
function releaseAll(r: unknown): void {
  if (Array.isArray(r)) r.forEach(releaseAll);
  else if (native.isTensor(r)) native.dispose(r);
}

function unexpected(o: Op, r: unknown, expected: string): never {
  releaseAll(r);
  throw new Error(`${o.name}${o.overload ? `.${o.overload}` : ''}: expected ${expected} as result`);
}

/** Calls an operator whose result is one tensor. */
export function callTensor(o: Op, ...args: OpArg[]): Tensor {
  const r = rawCall(o, args);
  if (typeof r !== 'number') unexpected(o, r, 'a tensor');
  return new Tensor(r as Handle);
}

/** Calls an operator whose result is a tuple or list of tensors. */
export function callTensors(o: Op, ...args: OpArg[]): Tensor[] {
  const r = rawCall(o, args);
  if (!Array.isArray(r) || !r.every((h) => typeof h === 'number')) unexpected(o, r, 'tensors');
  return (r as Handle[]).map((h) => new Tensor(h));
}

/** Calls an in-place operator on self and returns self. */
function callInPlace(self: Tensor, o: Op, ...args: OpArg[]): Tensor {
  const r = rawCall(o, [self, ...args]);
  if (typeof r === 'number') native.dispose(r as Handle); // the same tensor as self, under a second handle
  return self;
}

// The GC safety net, for tensors outside every tidy() scope (a scope holds its tensors until it
// ends). Registering a tensor and unregistering it at dispose() cost hash-table work several times
// the rest of a small operator call, so it is done only where needed: see Tensor.unscoped.
const registry = new FinalizationRegistry<Handle>((handle) => native.dispose(handle));

const ops = {
  add: op('add.Tensor'),
  addS: op('add.Scalar'),
  add_: op('add_.Tensor'),
  addS_: op('add_.Scalar'),
  sub: op('sub.Tensor'),
  subS: op('sub.Scalar'),
  sub_: op('sub_.Tensor'),
  subS_: op('sub_.Scalar'),
  mul: op('mul.Tensor'),
  mulS: op('mul.Scalar'),
  mul_: op('mul_.Tensor'),
  mulS_: op('mul_.Scalar'),
  div: op('div.Tensor'),
  divS: op('div.Scalar'),
  div_: op('div_.Tensor'),
  divS_: op('div_.Scalar'),
  addcmul_: op('addcmul_'),
  addcdiv_: op('addcdiv_'),
  lerp_: op('lerp_.Scalar'),
  neg: op('neg'),
  abs: op('abs'),
  sqrt: op('sqrt'),
  exp: op('exp'),
  log: op('log'),
  sign: op('sign'),
  powS: op('pow.Tensor_Scalar'),
  powT: op('pow.Tensor_Tensor'),
  clamp: op('clamp'),
  clamp_: op('clamp_'),
  eq: op('eq.Tensor'),
  eqS: op('eq.Scalar'),
  ne: op('ne.Tensor'),
  neS: op('ne.Scalar'),
  lt: op('lt.Tensor'),
  ltS: op('lt.Scalar'),
  le: op('le.Tensor'),
  leS: op('le.Scalar'),
  gt: op('gt.Tensor'),
  gtS: op('gt.Scalar'),
  ge: op('ge.Tensor'),
  geS: op('ge.Scalar'),
  logicalAnd: op('logical_and'),
  logicalOr: op('logical_or'),
  logicalNot: op('logical_not'),
  isfinite: op('isfinite'),
  isinf: op('isinf'),
  round: op('round'),
  rsqrt: op('rsqrt'),
  aminmax: op('aminmax'),
  sumAll: op('sum'),
  sumDim: op('sum.dim_IntList'),
  meanAll: op('mean'),
  meanDim: op('mean.dim'),
  stdDim: op('std.dim'),
  maxAll: op('max'),
  maxDim: op('max.dim'),
  minAll: op('min'),
  minDim: op('min.dim'),
  argmax: op('argmax'),
  argmin: op('argmin'),
  topk: op('topk'),
  count_nonzero: op('count_nonzero'),
  reshape: op('reshape'),
  view: op('view'),
  flatten: op('flatten.using_ints'),
  permute: op('permute'),
  transpose: op('transpose.int'),
  squeeze: op('squeeze.dim'),
  unsqueeze: op('unsqueeze'),
  expand: op('expand'),
  contiguous: op('contiguous'),
  narrow: op('narrow'),
  indexSelect: op('index_select'),
  scatter: op('scatter.src'),
  scatterS: op('scatter.value'),
  gather: op('gather'),
  to: op('to.dtype_layout'),
  clone: op('clone'),
  detach: op('detach'),
  requiresGrad_: op('requires_grad_'),
  copy_: op('copy_'),
  zero_: op('zero_'),
  fill_: op('fill_.Scalar'),
  uniform_: op('uniform_'),
  normal_: op('normal_'),
  bernoulli_: op('bernoulli_.float'),
  item: op('item'),
  matmul: op('matmul'),
  relu: op('relu'),
  relu_: op('relu_'),
};

/**
 * A handle on a libtorch tensor with PyTorch's semantics. Operations return new tensors; in-place
 * ones (ending in `_`) return this. Native memory is freed by dispose() or by the enclosing tidy();
 * garbage collection of the handle is only a safety net.
 */
export class Tensor extends Tracked {
  #handle: Handle | null;
  #registered = false;

  /** Wraps a native handle; used by the engine's own functions, not by users. */
  constructor(handle: Handle) {
    super();
    this.#handle = handle;
    track(this);
  }

  // A tensor outside every scope waits here, strongly held, and is registered with the GC safety
  // net in a batch at the end of the current job (a microtask), or when 1024 are waiting: most are
  // disposed before then and never cost a registration. A dropped tensor's wrapper thus becomes
  // collectable a little later, while its native memory, which the registry's callback frees only
  // in a later task, goes as before.
  static #waiting: Tensor[] = [];

  static #registerWaiting(): void {
    for (const t of Tensor.#waiting) {
      if (t.#handle === null) continue; // disposed already
      registry.register(t, t.#handle, t);
      t.#registered = true;
    }
    Tensor.#waiting.length = 0;
  }

  protected override unscoped(): void {
    const n = Tensor.#waiting.push(this);
    if (n === 1) queueMicrotask(Tensor.#registerWaiting);
    else if (n >= 1024) Tensor.#registerWaiting();
  }

  /** The native handle; throws once the tensor is disposed. */
  get handle(): Handle {
    if (this.#handle === null) throw new Error('Tensor was used after dispose()');
    return this.#handle;
  }

  /** Frees the native tensor now (idempotent). */
  dispose(): void {
    if (this.#handle === null) return;
    native.dispose(this.#handle);
    if (this.#registered) registry.unregister(this);
    this.#handle = null;
    untrack(this);
  }

  /** True after dispose(): the tensor can no longer be used. */
  get isDisposed(): boolean {
    return this.#handle === null;
  }

  // ---- metadata ----
  /** Sizes of the dimensions, outermost first (a fresh array). */
  get shape(): number[] {
    return native.shape(this.handle);
  }
  /** Strides of the dimensions, in elements. */
  get strides(): number[] {
    return native.strides(this.handle);
  }
  /** Element type. */
  get dtype(): DType {
    return dtypeName(native.dtype(this.handle));
  }
  /** Device holding the values. */
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  /** Number of dimensions (0 for a scalar). */
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** True when autograd records operations on this tensor. */
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** True for a tensor not computed by a recorded operation (a parameter, an input): backward() fills grad only on leaves. */
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** Size of one dimension; negative dims count from the end. */
  size(dim: number): number {
    const shape = this.shape;
    const d = dim < 0 ? dim + shape.length : dim;
    if (d < 0 || d >= shape.length)
      throw new Error(`size(${dim}): dimension out of range for a ${shape.length}-d tensor`);
    return shape[d]!;
  }
  /** True when the elements are laid out densely in the given format's order. */
  isContiguous(memoryFormat: 'contiguous' | 'channels_last' = 'contiguous'): boolean {
    return native.isContiguous(this.handle, memoryFormatCode[memoryFormat]);
  }
  /** Shape, dtype and device, not the values. */
  override toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- values out (one copy) ----
  /** The values as the dtype's TypedArray, row-major (float16/bfloat16 as raw bits). */
  data<D extends DType = DType>(): TypedArrayOf[D] {
    return typedArrayFor(this.dtype as D, native.toBuffer(this.handle));
  }
  /** The values as float32 (converted by libtorch when the dtype differs). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.data<'float32'>();
    const f = this.to({ dtype: 'float32' });
    try {
      return f.data<'float32'>();
    } finally {
      f.dispose();
    }
  }
  /** The value of a one-element tensor as a number (booleans as 0 or 1). */
  item(): number {
    if (this.numel !== 1) throw new Error(`item(): tensor has ${this.numel} elements, not 1`);
    const v = rawCall(ops.item, [this]);
    return typeof v === 'boolean' ? Number(v) : (v as number);
  }

  // ---- autograd ----
  /** The gradient accumulated by backward(), as a new handle; null when there is none. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  /** Replaces the gradient; null clears it. */
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, g === null ? null : g.handle);
  }
  /** Turns autograd recording on (or off) for this leaf tensor, in place. */
  requiresGrad_(requiresGrad = true): this {
    callInPlace(this, ops.requiresGrad_, requiresGrad);
    return this;
  }
  /** Backpropagates from this tensor, accumulating into the leaves' grad; `gradient` is needed unless the tensor is a scalar. */
  backward(gradient: Tensor | null = null, options: { retainGraph?: boolean } = {}): void {
    native.backward(this.handle, gradient === null ? null : gradient.handle, options.retainGraph ?? false);
  }
  /** The same values, sharing storage, cut off from the autograd graph. */
  detach(): Tensor {
    return callTensor(ops.detach, this);
  }

  // ---- arithmetic (broadcasting, PyTorch type promotion) ----
  /** this + alpha * other. */
  add(other: TensorOrNumber, alpha = 1): Tensor {
    return typeof other === 'number'
      ? callTensor(ops.addS, this, other, alpha)
      : callTensor(ops.add, this, other, alpha);
  }
  /** this - alpha * other. */
  sub(other: TensorOrNumber, alpha = 1): Tensor {
    return typeof other === 'number'
      ? callTensor(ops.subS, this, other, alpha)
      : callTensor(ops.sub, this, other, alpha);
  }
  /** Elementwise product. */
  mul(other: TensorOrNumber): Tensor {
    return typeof other === 'number' ? callTensor(ops.mulS, this, other) : callTensor(ops.mul, this, other);
  }
  /** Elementwise true division (integers give a floating result). */
  div(other: TensorOrNumber): Tensor {
    return typeof other === 'number' ? callTensor(ops.divS, this, other) : callTensor(ops.div, this, other);
  }
  /** this += alpha * other. */
  add_(other: TensorOrNumber, alpha = 1): this {
    callInPlace(this, typeof other === 'number' ? ops.addS_ : ops.add_, other, alpha);
    return this;
  }
  /** this -= alpha * other. */
  sub_(other: TensorOrNumber, alpha = 1): this {
    callInPlace(this, typeof other === 'number' ? ops.subS_ : ops.sub_, other, alpha);
    return this;
  }
  /** this *= other. */
  mul_(other: TensorOrNumber): this {
    callInPlace(this, typeof other === 'number' ? ops.mulS_ : ops.mul_, other);
    return this;
  }
  /** this /= other. */
  div_(other: TensorOrNumber): this {
    callInPlace(this, typeof other === 'number' ? ops.divS_ : ops.div_, other);
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    callInPlace(this, ops.addcmul_, t1, t2, value);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    callInPlace(this, ops.addcdiv_, t1, t2, value);
    return this;
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    callInPlace(this, ops.lerp_, end, weight);
    return this;
  }
  /** -this. */
  neg(): Tensor {
    return callTensor(ops.neg, this);
  }
  /** Elementwise absolute value. */
  abs(): Tensor {
    return callTensor(ops.abs, this);
  }
  /** Elementwise square root. */
  sqrt(): Tensor {
    return callTensor(ops.sqrt, this);
  }
  /** Elementwise 1 / sqrt. */
  rsqrt(): Tensor {
    return callTensor(ops.rsqrt, this);
  }
  /** Rounds half to even, as torch.round. */
  round(): Tensor {
    return callTensor(ops.round, this);
  }
  /** Elementwise e^x. */
  exp(): Tensor {
    return callTensor(ops.exp, this);
  }
  /** Elementwise natural logarithm. */
  log(): Tensor {
    return callTensor(ops.log, this);
  }
  /** Elementwise sign: -1, 0 or 1. */
  sign(): Tensor {
    return callTensor(ops.sign, this);
  }
  /** max(x, 0), elementwise. */
  relu(): Tensor {
    return callTensor(ops.relu, this);
  }
  /** max(x, 0), in place. */
  relu_(): this {
    callInPlace(this, ops.relu_);
    return this;
  }
  /** Elementwise power. */
  pow(exponent: TensorOrNumber): Tensor {
    return typeof exponent === 'number' ? callTensor(ops.powS, this, exponent) : callTensor(ops.powT, this, exponent);
  }
  /** Values limited to [min, max]; a null bound is open. */
  clamp(min: number | null, max: number | null = null): Tensor {
    return callTensor(ops.clamp, this, min, max);
  }
  /** clamp, in place. */
  clamp_(min: number | null, max: number | null = null): this {
    callInPlace(this, ops.clamp_, min, max);
    return this;
  }
  /** Matrix product (torch.matmul: batched and broadcasting). */
  matmul(other: Tensor): Tensor {
    return callTensor(ops.matmul, this, other);
  }

  // ---- comparisons (bool results) ----
  /** this == other. */
  eq(other: TensorOrNumber): Tensor {
    return callTensor(typeof other === 'number' ? ops.eqS : ops.eq, this, other);
  }
  /** this != other. */
  ne(other: TensorOrNumber): Tensor {
    return callTensor(typeof other === 'number' ? ops.neS : ops.ne, this, other);
  }
  /** this < other. */
  lt(other: TensorOrNumber): Tensor {
    return callTensor(typeof other === 'number' ? ops.ltS : ops.lt, this, other);
  }
  /** this <= other. */
  le(other: TensorOrNumber): Tensor {
    return callTensor(typeof other === 'number' ? ops.leS : ops.le, this, other);
  }
  /** this > other. */
  gt(other: TensorOrNumber): Tensor {
    return callTensor(typeof other === 'number' ? ops.gtS : ops.gt, this, other);
  }
  /** this >= other. */
  ge(other: TensorOrNumber): Tensor {
    return callTensor(typeof other === 'number' ? ops.geS : ops.ge, this, other);
  }
  /** Elementwise AND of the truth values. */
  logicalAnd(other: Tensor): Tensor {
    return callTensor(ops.logicalAnd, this, other);
  }
  /** Elementwise OR of the truth values. */
  logicalOr(other: Tensor): Tensor {
    return callTensor(ops.logicalOr, this, other);
  }
  /** Elementwise NOT of the truth values. */
  logicalNot(): Tensor {
    return callTensor(ops.logicalNot, this);
  }
  /** True where the element is neither NaN nor infinite. */
  isfinite(): Tensor {
    return callTensor(ops.isfinite, this);
  }
  /** True where the element is +/- infinity. */
  isinf(): Tensor {
    return callTensor(ops.isinf, this);
  }

  // ---- reductions ----
  /** Sum of all elements, or along the given dimensions. */
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return dim === undefined ? callTensor(ops.sumAll, this) : callTensor(ops.sumDim, this, dims(dim), keepdim);
  }
  /** Mean of all elements, or along the given dimensions. */
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return dim === undefined ? callTensor(ops.meanAll, this) : callTensor(ops.meanDim, this, dims(dim), keepdim);
  }
  /** Standard deviation; unbiased (n-1) by default as in PyTorch, population (n) with unbiased false. */
  std(dim?: number | readonly number[], options: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    return callTensor(
      ops.stdDim,
      this,
      dim === undefined ? null : dims(dim),
      options.unbiased ?? true,
      options.keepdim ?? false,
    );
  }
  /** The largest element (a 0-d tensor). */
  max(): Tensor;
  /** The largest values along a dimension, and where they are. */
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return callTensor(ops.maxAll, this);
    const [values, indices] = callTensors(ops.maxDim, this, dim, keepdim) as [Tensor, Tensor];
    return { values, indices };
  }
  /** The smallest element (a 0-d tensor). */
  min(): Tensor;
  /** The smallest values along a dimension, and where they are. */
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return callTensor(ops.minAll, this);
    const [values, indices] = callTensors(ops.minDim, this, dim, keepdim) as [Tensor, Tensor];
    return { values, indices };
  }
  /** Index of the largest element, over the flattened tensor or along a dimension. */
  argmax(dim: number | null = null, keepdim = false): Tensor {
    return callTensor(ops.argmax, this, dim, keepdim);
  }
  /** The minimum and maximum, over everything or along a dimension. */
  aminmax(dim: number | null = null, keepdim = false): { min: Tensor; max: Tensor } {
    const [min, max] = callTensors(ops.aminmax, this, dim, keepdim) as [Tensor, Tensor];
    return { min, max };
  }
  /** Index of the smallest element, over the flattened tensor or along a dimension. */
  argmin(dim: number | null = null, keepdim = false): Tensor {
    return callTensor(ops.argmin, this, dim, keepdim);
  }
  /** The k largest (or smallest) values along a dimension, and their indices. */
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [values, indices] = callTensors(ops.topk, this, k, dim, largest, sorted) as [Tensor, Tensor];
    return { values, indices };
  }
  /** Number of non-zero elements (int64 tensor). */
  countNonzero(dim?: number | readonly number[]): Tensor {
    return callTensor(
      op(dim === undefined ? 'count_nonzero' : 'count_nonzero.dim_IntList'),
      this,
      dim === undefined ? null : dims(dim),
    );
  }

  // ---- shape and layout ----
  /** The values under another shape (a view when possible, else a copy); one size may be -1. */
  reshape(shape: Shape): Tensor {
    return callTensor(ops.reshape, this, shape);
  }
  /** A view under another shape; throws where the strides do not allow one. */
  view(shape: Shape): Tensor {
    return callTensor(ops.view, this, shape);
  }
  /** Dimensions startDim..endDim merged into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    return callTensor(ops.flatten, this, startDim, endDim);
  }
  /** A view with the dimensions reordered. */
  permute(order: readonly number[]): Tensor {
    return callTensor(ops.permute, this, order);
  }
  /** A view with two dimensions swapped. */
  transpose(dim0: number, dim1: number): Tensor {
    return callTensor(ops.transpose, this, dim0, dim1);
  }
  /** A view without dimension dim, if its size is 1. */
  squeeze(dim: number): Tensor {
    return callTensor(ops.squeeze, this, dim);
  }
  /** A view with a new dimension of size 1 at dim. */
  unsqueeze(dim: number): Tensor {
    return callTensor(ops.unsqueeze, this, dim);
  }
  /** A view broadcast to a larger shape (size-1 dimensions repeated without copying; -1 keeps a size). */
  expand(shape: Shape): Tensor {
    return callTensor(ops.expand, this, shape);
  }
  /** This tensor if dense in the given format's order, else a dense copy. */
  contiguous(memoryFormat: 'contiguous' | 'channels_last' = 'contiguous'): Tensor {
    return callTensor(ops.contiguous, this, memoryFormatCode[memoryFormat]);
  }
  /** A view with the given sizes and strides (in elements) over this tensor's storage. */
  asStrided(shape: Shape, strides: readonly number[], storageOffset = 0): Tensor {
    return callTensor(op('as_strided'), this, shape, strides, storageOffset);
  }
  /** A view of `length` entries from `start` along dim. */
  narrow(dim: number, start: number, length: number): Tensor {
    return callTensor(ops.narrow, this, dim, start, length);
  }
  /** The entries at the given (int64) indices along dim, copied. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return callTensor(ops.indexSelect, this, dim, index);
  }
  /** Values picked along dim by an index tensor of the output's shape (torch.gather). */
  gather(dim: number, index: Tensor): Tensor {
    return callTensor(ops.gather, this, dim, index);
  }
  /** Out-of-place scatter: a copy with src (or a value) written at index along dim. */
  scatter(dim: number, index: Tensor, src: TensorOrNumber): Tensor {
    return typeof src === 'number'
      ? callTensor(ops.scatterS, this, dim, index, src)
      : callTensor(ops.scatter, this, dim, index, src);
  }

  // ---- conversion ----
  /** Converts dtype, device and/or memory format; returns a new handle (sharing storage when nothing changes). */
  to(
    target:
      | DType
      | Device
      | { dtype?: DType; device?: Device; memoryFormat?: MemoryFormat; copy?: boolean; nonBlocking?: boolean },
  ): Tensor {
    const t =
      typeof target === 'string' ? (isDevice(target) ? { device: target } : { dtype: target as DType }) : target;
    // nonBlocking: a copy from pinned host memory to a GPU returns at once and runs in stream order.
    return callTensor(
      ops.to,
      this,
      t.dtype === undefined ? null : dtypeCode(t.dtype),
      null,
      t.device ?? null,
      null,
      'nonBlocking' in t ? (t.nonBlocking ?? false) : false,
      t.copy ?? false,
      t.memoryFormat === undefined ? null : memoryFormatCode[t.memoryFormat],
    );
  }
  /** A copy in page-locked host memory, which the GPU reads without the host waiting (a CPU tensor; needs CUDA). */
  pinMemory(): Tensor {
    return callTensor(op('pin_memory'), this);
  }
  /** Converted to float32. */
  float(): Tensor {
    return this.to('float32');
  }
  /** Moved to the CPU. */
  cpu(): Tensor {
    return this.to('cpu');
  }
  /** A copy with its own storage (differentiable). */
  clone(memoryFormat: MemoryFormat = 'preserve'): Tensor {
    return callTensor(ops.clone, this, memoryFormatCode[memoryFormat]);
  }

  // ---- in-place writes (optimizers, initialisers) ----
  /** Overwrites the values with src's (broadcast, converted to this dtype and device). */
  copy_(src: Tensor, nonBlocking = false): this {
    callInPlace(this, ops.copy_, src, nonBlocking);
    return this;
  }
  /** Sets every element to 0. */
  zero_(): this {
    callInPlace(this, ops.zero_);
    return this;
  }
  /** Sets every element to value. */
  fill_(value: number): this {
    callInPlace(this, ops.fill_, value);
    return this;
  }
  /** Fills with samples of U(from, to), from the generator or the default one. */
  uniform_(from: number, to: number, generator: HasGenerator | null = null): this {
    callInPlace(this, ops.uniform_, from, to, generator);
    return this;
  }
  /** Fills with samples of N(mean, std^2), from the generator or the default one. */
  normal_(mean: number, std: number, generator: HasGenerator | null = null): this {
    callInPlace(this, ops.normal_, mean, std, generator);
    return this;
  }
  /** Fills with 1 with probability p, else 0, from the generator or the default one. */
  bernoulli_(p: number, generator: HasGenerator | null = null): this {
    callInPlace(this, ops.bernoulli_, p, generator);
    return this;
  }
}

/** A generator as the ops see it (see random.ts). */
interface HasGenerator {
  readonly handle: GeneratorHandle;
}

function dims(dim: number | readonly number[]): readonly number[] {
  return typeof dim === 'number' ? [dim] : dim;
}

/** True when two shapes have the same sizes. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** True for a device name: 'cpu', 'cuda' or 'cuda:N'. */
export function isDevice(s: string): s is Device {
  return s === 'cpu' || s === 'cuda' || /^cuda:\d+$/.test(s);
}
