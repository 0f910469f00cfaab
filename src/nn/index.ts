// Modules and the layers the networks are built from, named as PyTorch names them.
export { Module, shortList, type TensorSpec } from './module.js';
export {
  WeightLayer,
  Identity,
  Conv2d,
  MaskedConv2d,
  Linear,
  MaskedLinear,
  BatchNorm2d,
  ReLU,
  MaxPool2d,
  AvgPool2d,
  ConstantPad2d,
  AdaptiveAvgPool2d,
  Dropout2d,
  Sequential,
  chain,
  type Conv2dOptions,
  type LayerBits,
  type LinearOptions,
  type WeightLayerOptions,
  type InitOptions,
} from './layers.js';
export { FusedConv2d, fuseConvolutions, fusedConvAvailable } from './fused.js';
