// The typed tensor API of micronet over libtorch.
export {
  Tensor,
  isDevice,
  sameShape,
  type Device,
  type MemoryFormat,
  type Shape,
  type TensorOrNumber,
} from './tensor.js';
export { type DType, type TypedArrayOf, isFloatingPoint, dtypeBytes } from './dtype.js';
export {
  tensor,
  zeros,
  ones,
  full,
  arange,
  eye,
  zerosLike,
  onesLike,
  shapesOnly,
  type TensorOptions,
} from './creation.js';
export { Generator, manualSeed, rand, randn, randint, randperm, bernoulli, type RandomOptions } from './random.js';
export { cat, stack, where, minimum, maximum } from './combine.js';
export { noGrad, enableGrad, isGradEnabled, autocast, isAutocastEnabled, type AutocastOptions } from './autograd.js';
export { tidy, keep, scopeDepth } from './scope.js';
export {
  setNumThreads,
  getNumThreads,
  liveTensors,
  setDeterministic,
  engineVersions,
  describeEngine,
  type EngineVersions,
} from './engine.js';
export { cuda, CudaStream, CudaGraph } from './cuda.js';
export { foreachAdd, foreachAdd_, foreachMul, foreachMul_ } from './foreach.js';
export { op, observeOps, type ObservedOp, type Op, type OpObserver } from './ops.js';
/** Neural-network operations with torch.nn.functional's semantics. */
export * as F from './functional.js';
export { ProcessGroup, Reducer, type CudaBackend, type GroupOptions } from './distributed.js';
