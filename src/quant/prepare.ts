// Turning a trained float model into a quantization-aware one: BatchNorm folded into the
// convolution before it (so the deployed network has none), then every conv/linear given its bit
// widths. The same steps rebuild the structure of a quantized checkpoint before its weights load.
import { shown } from '../text.js';
import * as T from '../torch/index.js';
import { foldablePairs, traceForward, type Trace } from '../nn/trace.js';
import { Identity, WeightLayer, type BatchNorm2d, type Conv2d, type LayerBits, type Module } from '../nn/index.js';
import { checkBits } from '../nn/fake-quant.js';

/** What a user asks for: bits of every layer, the first conv and the classifier set apart if wished. */
export interface QuantizationConfig {
  weightBits: number;
  actBits: number;
  /** The first layer (it sees the image) and the last (the classifier): null keeps the general bits. */
  first: LayerBits | null;
  last: LayerBits | null;
  /** The input ranges' moving-average constant (PyTorch's default 0.01). */
  averagingConstant: number;
}

/** What a quantized model is, as its checkpoints record it: the bits of each weight layer by name. */
export interface QuantizationPlan {
  layers: Record<string, LayerBits>;
  averagingConstant: number;
}

/** What is wrong with a quantization config (empty when nothing): bit widths in range, an averaging constant in (0, 1]. */
export function checkQuantizationConfig(c: QuantizationConfig): string[] {
  const problems: string[] = [];
  const bits = (v: unknown, what: string) => {
    try {
      checkBits(v as number, what);
    } catch (e) {
      problems.push((e as Error).message);
    }
  };
  bits(c.weightBits, 'weightBits');
  bits(c.actBits, 'actBits');
  for (const side of ['first', 'last'] as const) {
    const b = c[side];
    if (b === null) continue;
    if (typeof b !== 'object') {
      problems.push(`${side} must be null or {weight, input}`);
      continue;
    }
    bits(b.weight, `${side}.weight`);
    bits(b.input, `${side}.input`);
  }
  if (!(c.averagingConstant > 0 && c.averagingConstant <= 1))
    problems.push(`averagingConstant must be in (0, 1], got ${shown(c.averagingConstant)}`);
  return problems;
}

/**
 * What is wrong with a plan read from a file: its shape, every layer's bits and the averaging
 * constant. Whether its layer names fit a model is prepareQuantized's check.
 */
export function checkQuantizationPlan(value: unknown): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value)) return ['a plan must be an object {layers, averagingConstant}'];
  const problems: string[] = [];
  if (!isObject(value.layers) || !Object.keys(value.layers).length)
    problems.push('layers must be a non-empty object of {weight, input} bits by layer name');
  else {
    for (const [name, b] of Object.entries(value.layers)) {
      if (!isObject(b)) {
        problems.push(`layer '${name}' must have {weight, input} bits`);
        continue;
      }
      for (const side of ['weight', 'input'] as const) {
        try {
          checkBits(b[side] as number, `layer '${name}' ${side}`);
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
    }
  }
  const c = value.averagingConstant;
  if (typeof c !== 'number' || !(c > 0 && c <= 1))
    problems.push(`averagingConstant must be in (0, 1], got ${JSON.stringify(c)}`);
  return problems;
}

const weightLayers = (model: Module) =>
  model.namedModules().filter((e): e is [string, WeightLayer] => e[1] instanceof WeightLayer);

/**
 * The weight layers a forward pass calls, in registration order. A layer the network builds but
 * never calls (NASNet's factorised reductions in cells that do not need them) stays float: it
 * never sees an input whose range it could learn, and the scorer does not count it.
 */
function calledWeightLayers(model: Module, trace: Trace = traceForward(model)): [string, WeightLayer][] {
  const called = new Set(trace.calls.map((c) => c.module));
  return weightLayers(model).filter(([, l]) => called.has(l));
}

/** The bits of each weight layer the model's forward calls, under a configuration. */
export function planFor(model: Module, config: QuantizationConfig): QuantizationPlan {
  const layers = calledWeightLayers(model);
  const general: LayerBits = { weight: config.weightBits, input: config.actBits };
  return {
    layers: Object.fromEntries(
      layers.map(([name], i) => [
        name,
        (i === 0 && config.first) || (i === layers.length - 1 && config.last) || general,
      ]),
    ),
    averagingConstant: config.averagingConstant,
  };
}

/**
 * Folds every BatchNorm that alone reads a convolution's output (foldablePairs, on a traced
 * forward) into that convolution, with the running statistics (torch.nn.utils.fusion.
 * fuse_conv_bn_weights): w' = w * g/sqrt(v+eps), b' = (b - m) * g/sqrt(v+eps) + beta. The
 * BatchNorm becomes an Identity in its parent. Zero weights stay zero. A BatchNorm that reads
 * anything else (a pre-activation one) stays a float layer.
 */
export function foldBatchNorm(model: Module): number {
  return fold(model).folded;
}

/** foldBatchNorm, with the traced forward of the folded model (for the layers it calls). */
function fold(model: Module): { folded: number; trace: Trace } {
  const trace = traceForward(model);
  const modules = new Map(model.namedModules());
  const timesCalled = (m: Module) => trace.calls.filter((c) => c.module === m).length;
  const replaced = new Map<Module, string>();
  for (const [bnCall, convCall] of foldablePairs(trace)) {
    const [bn, conv] = [bnCall.module as BatchNorm2d, convCall.module as Conv2d];
    if (timesCalled(bn) !== 1 || timesCalled(conv) !== 1) continue; // a shared layer serves other inputs too
    const sd = bn.stateDict();
    // PyTorch's order of operations, so that both fold to the same floats.
    T.noGrad(() =>
      T.tidy(() => {
        const rsqrt = sd.get('running_var')!.add(bn.eps).rsqrt();
        conv.weight.mul_(sd.get('weight')!.mul(rsqrt).reshape([-1, 1, 1, 1]));
        const bias = conv.ensureBias();
        bias.copy_(bias.sub(sd.get('running_mean')!).mul(rsqrt).mul(sd.get('weight')!).add(sd.get('bias')!));
      }),
    );
    const dot = bnCall.name.lastIndexOf('.');
    const parent = dot < 0 ? model : modules.get(bnCall.name.slice(0, dot))!;
    parent.replaceChild(bnCall.name.slice(dot + 1), new Identity());
    replaced.set(bn, bnCall.name);
  }
  // Folding changed the forward: trace it again (unchanged, the first trace stands).
  const folded = replaced.size ? traceForward(model) : trace;
  // A network that keeps its BatchNorm in a field would still call it: its folded scale would apply twice.
  const stale = folded.calls.find((c) => replaced.has(c.module));
  if (stale)
    throw new Error(
      `${model.describe()} still calls its BatchNorm '${stale.name}' after folding: a network must read a foldable child with child('${stale.name.split('.').at(-1)}')`,
    );
  for (const bn of replaced.keys()) bn.dispose();
  return { folded: replaced.size, trace: folded };
}

/** Folds BatchNorm and makes each weight layer of the plan quantization-aware. */
export function prepareQuantized(model: Module, plan: QuantizationPlan): void {
  const { trace } = fold(model);
  const layers = new Map(weightLayers(model));
  for (const name of Object.keys(plan.layers))
    if (!layers.has(name))
      throw new Error(`quantization plan names '${name}', which is no conv or linear layer of the model`);
  for (const [name] of calledWeightLayers(model, trace))
    if (!plan.layers[name]) throw new Error(`quantization plan has no bits for layer '${name}'`);
  for (const [name, bits] of Object.entries(plan.layers)) layers.get(name)!.quantize(bits, plan.averagingConstant);
}

/** Freezes (false) or releases the input ranges of every quantized layer. */
export function setObserving(model: Module, on: boolean): void {
  for (const [, layer] of weightLayers(model)) layer.observing = on;
}

/** Post-training calibration (true): eval forwards move the quantized layers' input ranges, as training ones do. */
export function setCalibrating(model: Module, on: boolean): void {
  for (const [, layer] of weightLayers(model)) layer.calibrating = on;
}

/** Eval of quantized layers with exact integer arithmetic (true) or fake-quantized floats. */
export function setIntegerSimulation(model: Module, on: boolean): void {
  for (const [, layer] of weightLayers(model)) layer.integerSimulation = on;
}

/** The plan a quantized model follows, or null for a float model. */
export function planOf(model: Module): QuantizationPlan | null {
  const layers = weightLayers(model).filter(([, l]) => l.bits !== null);
  return layers.length
    ? {
        layers: Object.fromEntries(layers.map(([n, l]) => [n, l.bits!])),
        averagingConstant: layers[0]![1].averagingConstant,
      }
    : null;
}
