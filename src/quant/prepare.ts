// Turning a trained float model into a quantization-aware one: BatchNorm folded into the
// convolution before it (so the deployed network has none), then every conv/linear given its bit
// widths. The same steps rebuild the structure of a quantized checkpoint before its weights load.
import { shown } from '../text.js';
import * as T from '../torch/index.js';
import { BatchNorm2d, Conv2d, Identity, Sequential, WeightLayer, type LayerBits, type Module } from '../nn/index.js';
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

/** The bits of each weight layer of the model under a configuration. */
export function planFor(model: Module, config: QuantizationConfig): QuantizationPlan {
  const layers = weightLayers(model);
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
 * Folds every BatchNorm that follows a convolution in a Sequential into it, with the running
 * statistics (torch.nn.utils.fusion.fuse_conv_bn_weights): w' = w * g/sqrt(v+eps),
 * b' = (b - m) * g/sqrt(v+eps) + beta. The BatchNorm becomes an Identity. Zero weights stay zero.
 */
export function foldBatchNorm(model: Module): number {
  let folded = 0;
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof Sequential)) continue;
    m.layers.forEach((bn, i) => {
      const conv = m.layers[i - 1];
      if (!(bn instanceof BatchNorm2d) || !(conv instanceof Conv2d)) return;
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
      m.replace(i, new Identity());
      bn.dispose();
      folded++;
    });
  }
  return folded;
}

/** Folds BatchNorm and makes each weight layer of the plan quantization-aware. */
export function prepareQuantized(model: Module, plan: QuantizationPlan): void {
  foldBatchNorm(model);
  const layers = new Map(weightLayers(model));
  for (const name of Object.keys(plan.layers))
    if (!layers.has(name))
      throw new Error(`quantization plan names '${name}', which is no conv or linear layer of the model`);
  for (const [name, layer] of layers) {
    const bits = plan.layers[name];
    if (!bits) throw new Error(`quantization plan has no bits for layer '${name}'`);
    layer.quantize(bits, plan.averagingConstant);
  }
}

/** Freezes (false) or releases the input ranges of every quantized layer. */
export function setObserving(model: Module, on: boolean): void {
  for (const [, layer] of weightLayers(model)) layer.observing = on;
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
