// ONNX export of a traced forward pass. A float model is exported with its BatchNorms folded
// (zeros stay zeros); a quantized model as QDQ: each quantized layer's input goes through
// QuantizeLinear/DequantizeLinear (uint8, its zero point; clipped first to its range when it has
// fewer than 8 bits), its weight is an int8 initializer behind a per-channel DequantizeLinear and
// its bias an int32 one in units of input scale x weight scale, so that a runtime computes what
// micronet's integer simulation computes. Every layer and operator of the trace maps to an ONNX
// node or is refused by name.
import * as T from '../torch/index.js';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  ConstantPad2d,
  Conv2d,
  Dropout2d,
  Identity,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
  WeightLayer,
  type Module,
} from '../nn/index.js';
import { traceForward, type OpCall, type Trace } from '../nn/trace.js';
import { foldBatchNorm, planOf } from '../quant/prepare.js';
import { layerIntegers } from '../checkpoint/quantized-file.js';
import { unsignedRange } from '../nn/fake-quant.js';
import { encodeModel, type OnnxNode, type OnnxTensor, type OnnxType } from './onnx-proto.js';

/** The opsets export writes: per-channel QDQ needs 13; 17 is the default. */
export const minOpset = 13;
export const maxOpset = 21;
export const defaultOpset = 17;

/** The graph's input and output names. */
export const onnxInput = 'input';
export const onnxOutput = 'logits';

/** Builds the nodes and initializers of one graph. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  #count = 0;

  constructor(readonly trace: Trace) {}

  /** The graph's name for the tensor of a trace id. */
  value(id: number): string {
    return id === this.trace.inputId ? onnxInput : `t${id}`;
  }

  /** A fresh intermediate name. */
  fresh(what: string): string {
    return `${what}_${++this.#count}`;
  }

  constant(name: string, type: OnnxType, dims: readonly number[], data: ArrayBufferView): string {
    this.initializers.push({ name, type, dims, data });
    return name;
  }

  /** A float32 tensor's values as an initializer. */
  tensor(name: string, t: T.Tensor): string {
    return this.constant(name, 'float32', t.shape, t.toFloat32Array());
  }

  node(op: string, inputs: string[], outputs: string[], attributes?: OnnxNode['attributes']): void {
    this.nodes.push({ op, inputs, outputs, ...(attributes ? { attributes } : {}) });
  }
}

/** Serialises a model as an ONNX ModelProto (see the module comment). The model may be folded in place: pass one to spare. */
export function exportOnnx(model: Module, options: { opset?: number; producerVersion?: string } = {}): Uint8Array {
  const opset = options.opset ?? defaultOpset;
  if (!Number.isInteger(opset) || opset < minOpset || opset > maxOpset)
    throw new Error(`opset must be an integer in ${minOpset}..${maxOpset}, got ${opset}`);
  // A quantized model is folded already; a float one is folded here, as the scorer assumes.
  if (!planOf(model)) foldBatchNorm(model);
  const trace = traceForward(model);
  const g = new GraphBuilder(trace);
  T.noGrad(() => {
    for (const step of trace.steps) {
      if ('op' in step) operatorNodes(g, step.op);
      else if (step.layer.inputId !== step.layer.outputId) layerNodes(g, step.layer);
    }
  });
  g.node('Identity', [g.value(trace.outputId)], [onnxOutput]);
  const [c, h, w] = model.sampleShape as [number, number, number];
  const classes = trace.calls.at(-1)?.output[0] ?? 0;
  return encodeModel(
    {
      name: model.describe(),
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [{ name: onnxInput, type: 'float32', shape: ['batch', c, h, w] }],
      outputs: [{ name: onnxOutput, type: 'float32', shape: ['batch', classes] }],
    },
    opset,
    options.producerVersion ?? '',
  );
}

type LayerCall = Trace['calls'][number];

function layerNodes(g: GraphBuilder, call: LayerCall): void {
  const m = call.module;
  const [x, y] = [g.value(call.inputId), g.value(call.outputId)];
  const square = (k: number) => [k, k];
  if (m instanceof WeightLayer) weightLayerNodes(g, call.name, m, x, y);
  else if (m instanceof BatchNorm2d) {
    const sd = m.stateDict();
    const p = (n: string) => g.tensor(`${call.name}.${n}`, sd.get(n)!);
    g.node('BatchNormalization', [x, p('weight'), p('bias'), p('running_mean'), p('running_var')], [y], {
      epsilon: { float: m.eps },
    });
  } else if (m instanceof ReLU) g.node('Relu', [x], [y]);
  else if (m instanceof MaxPool2d)
    g.node('MaxPool', [x], [y], {
      kernel_shape: square(m.kernelSize),
      strides: square(m.stride),
      pads: Array(4).fill(m.padding),
    });
  else if (m instanceof AvgPool2d)
    g.node('AveragePool', [x], [y], {
      kernel_shape: square(m.kernelSize),
      strides: square(m.stride),
      pads: Array(4).fill(m.padding),
      count_include_pad: 1,
    });
  else if (m instanceof AdaptiveAvgPool2d && m.outputSize === 1) g.node('GlobalAveragePool', [x], [y]);
  else if (m instanceof ConstantPad2d) {
    const [left, right, top, bottom] = m.padding;
    const pads = g.constant(
      g.fresh('pads'),
      'int64',
      [8],
      BigInt64Array.from([0, 0, top, left, 0, 0, bottom, right], BigInt),
    );
    g.node('Pad', [x, pads], [y]);
  } else if (m instanceof Dropout2d || m instanceof Identity || (m instanceof Sequential && !m.layers.length))
    g.node('Identity', [x], [y]);
  else throw new Error(`cannot export layer '${call.name}' (${m.describe()}) to ONNX: no mapping for it`);
}

/** A conv or linear layer: float, or QDQ when quantized. */
function weightLayerNodes(g: GraphBuilder, name: string, layer: WeightLayer, x: string, y: string): void {
  const inputs = layer.bits ? quantizedInputs(g, name, layer, x) : floatInputs(g, name, layer, x);
  if (layer instanceof Conv2d) {
    g.node('Conv', inputs, [y], {
      kernel_shape: [layer.kernelSize, layer.kernelSize],
      strides: [layer.stride, layer.stride],
      pads: Array(4).fill(layer.padding),
      dilations: [1, 1],
      group: layer.groups,
    });
  } else if (layer instanceof Linear) g.node('Gemm', inputs, [y], { transB: 1 });
  else throw new Error(`cannot export layer '${name}' (${layer.describe()}) to ONNX: no mapping for it`);
}

function floatInputs(g: GraphBuilder, name: string, layer: WeightLayer, x: string): string[] {
  const weight = T.tidy(() => g.tensor(`${name}.weight`, layer.effectiveWeight()));
  return layer.bias ? [x, weight, g.tensor(`${name}.bias`, layer.bias)] : [x, weight];
}

/** The input quantized and dequantized, the integer weight and bias dequantized: the conv's float inputs. */
function quantizedInputs(g: GraphBuilder, name: string, layer: WeightLayer, x: string): string[] {
  const bits = layer.bits!;
  if (bits.weight > 8 || bits.input > 8)
    throw new Error(
      `cannot export '${name}' as QDQ: its ${bits.weight}-bit weights and ${bits.input}-bit inputs do not fit the int8/uint8 QDQ format (at most 8 bits each)`,
    );
  const sd = layer.stateDict();
  const s = sd.get('input_scale')!.item();
  const z = sd.get('input_zero_point')!.item();
  const scale = g.constant(`${name}.input_scale`, 'float32', [], Float32Array.of(s));
  const zero = g.constant(`${name}.input_zero_point`, 'uint8', [], Uint8Array.of(z));
  let input = x;
  if (bits.input < 8) {
    // QuantizeLinear saturates to 0..255: clip to the layer's own range first, on its grid.
    const { min, max } = unsignedRange(bits.input);
    const lo = g.constant(g.fresh(`${name}.input_lo`), 'float32', [], Float32Array.of((min - z) * s));
    const hi = g.constant(g.fresh(`${name}.input_hi`), 'float32', [], Float32Array.of((max - z) * s));
    input = g.fresh(`${name}.clipped`);
    g.node('Clip', [x, lo, hi], [input]);
  }
  const q = g.fresh(`${name}.input_q`);
  const dq = g.fresh(`${name}.input_dq`);
  g.node('QuantizeLinear', [input, scale, zero], [q]);
  g.node('DequantizeLinear', [q, scale, zero], [dq]);

  const ints = layerIntegers(layer);
  try {
    const c = layer.outChannels;
    const ws = ints.weightScale.data<'float32'>();
    const w = g.constant(
      `${name}.weight_int8`,
      'int8',
      ints.weight.shape,
      Int8Array.from(ints.weight.data<'float64'>()),
    );
    const wScale = g.constant(`${name}.weight_scale`, 'float32', [c], ws);
    const wZero = g.constant(`${name}.weight_zero_point`, 'int8', [c], new Int8Array(c));
    const wdq = g.fresh(`${name}.weight_dq`);
    g.node('DequantizeLinear', [w, wScale, wZero], [wdq], { axis: 0 });
    if (!ints.bias) return [dq, wdq];
    const b = g.constant(`${name}.bias_int32`, 'int32', [c], Int32Array.from(ints.bias.data<'float64'>()));
    const bScale = g.constant(
      `${name}.bias_scale`,
      'float32',
      [c],
      ws.map((v) => Math.fround(v * s)),
    );
    const bZero = g.constant(`${name}.bias_zero_point`, 'int32', [c], new Int32Array(c));
    const bdq = g.fresh(`${name}.bias_dq`);
    g.node('DequantizeLinear', [b, bScale, bZero], [bdq], { axis: 0 });
    return [dq, wdq, bdq];
  } finally {
    ints.weight.dispose();
    ints.weightScale.dispose();
    ints.bias?.dispose();
  }
}

/** An operator outside the layers: additions and multiplies, concatenation, reshaping. */
function operatorNodes(g: GraphBuilder, call: OpCall): void {
  const inputs = call.inputIds.map((id) => g.value(id));
  const y = g.value(call.outputId);
  const identity = ['contiguous', 'clone', 'alias', 'detach'];
  const [start, end] = call.attributes.map(Number) as [number, number];
  if (call.op === 'add.Tensor') g.node('Add', inputs, [y]);
  else if (call.op === 'mul.Tensor') g.node('Mul', inputs, [y]);
  else if (call.op === 'cat') g.node('Concat', inputs, [y], { axis: Number(call.attributes[0] ?? 0) });
  else if (call.op === 'flatten.using_ints' && end === -1) g.node('Flatten', inputs, [y], { axis: start });
  else if (identity.includes(call.op)) g.node('Identity', inputs.slice(0, 1), [y]);
  else throw new Error(`cannot export the operator ${call.op} to ONNX: no mapping for it`);
}
