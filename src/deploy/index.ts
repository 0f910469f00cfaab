// Deployment: ONNX export (float, or QDQ for quantized models) and onnxruntime sessions.
export { exportOnnx, defaultOpset, minOpset, maxOpset, onnxInput, onnxOutput } from './export.js';
export { OnnxSession, evaluateOnnx } from './runtime.js';
export { encodeModel, irVersionFor, type OnnxGraph, type OnnxNode, type OnnxTensor } from './onnx-proto.js';
