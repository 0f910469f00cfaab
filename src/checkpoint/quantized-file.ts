// Quantized checkpoints, the deployment form of a quantization-aware model: what integer
// arithmetic needs and nothing else. Per quantized layer L:
//   L.weight            the integer weights: I8 (8 bits), I16 (9..16 bits), or below 8 bits a U8
//                       bitstream (pack.ts) whose true shape the metadata 'packed_shapes' records
//   L.weight_scale      F32 [out channels] (symmetric: the zero point is 0)
//   L.bias              I32 [out channels], in units of input_scale * weight_scale
//   L.input_scale       F32 [], L.input_zero_point I32 [], L.input_min / L.input_max F32 []
// No masks: sparsity is the zeros of the integers. Any other tensor of the model is stored as it
// is. Loading (through loadModelCheckpoint) gives back a model whose eval reproduces the saved
// one's integer arithmetic exactly.
import type { DataSource } from '../data/synthetic.js';
import { shown } from '../text.js';
import * as T from '../torch/index.js';
import type { Module, WeightLayer } from '../nn/index.js';
import { writeSafetensors, type TensorFile } from '../io/safetensors.js';
import type { DatasetName } from '../data/cifar.js';
import { modelMetadata, quantizedCheckpointFormat } from './metadata.js';
import * as Q from '../nn/fake-quant.js';
import { packedBytes, packSigned, unpackSigned } from '../quant/pack.js';
import { planOf, setIntegerSimulation, setObserving } from '../quant/prepare.js';
import { roundHalfEven } from '../math.js';

/** The metadata key of the packed weights' true shapes (JSON: tensor name to shape). */
const packedShapesKey = 'packed_shapes';
const int32Max = 2 ** 31 - 1;
/** A quantized layer's input quantization: scalars stored as the layer holds them. */
const inputTensors = {
  input_scale: 'float32',
  input_zero_point: 'int32',
  input_min: 'float32',
  input_max: 'float32',
} as const;

/** How b-bit integer weights are stored: bytes or 16-bit words, or packed below a byte. */
function storage(bits: number): 'packed' | 'int8' | 'int16' {
  return bits < 8 ? 'packed' : bits === 8 ? 'int8' : 'int16';
}

/** The layers the quantization plan names, with their modules. */
function plannedLayers(model: Module): [string, WeightLayer][] {
  const plan = planOf(model);
  if (!plan) throw new Error('the model is not quantized (prepareQuantized gives it a plan first)');
  const modules = new Map(model.namedModules());
  return Object.keys(plan.layers).map((name) => [name, modules.get(name) as WeightLayer]);
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
/** The float32 next to x (a float32) towards +inf (dir 1) or -inf (-1). */
function nextFloat32(x: number, dir: 1 | -1): number {
  if (x === 0) return dir * 2 ** -149;
  f32[0] = x;
  i32[0]! += x > 0 === dir > 0 ? 1 : -1;
  return f32[0]!;
}

/**
 * A float32 bias that the integer simulation rounds back to exactly n units of s (round(b / s)
 * in float64): the float32 nearest n*s, or one a few steps from it. Null when no float32 near
 * n*s does (a bias no float32 model can have had).
 */
function biasFor(n: number, s: number): number | null {
  let b = Math.fround(n * s);
  for (let step = 0; step < 4; step++) {
    const back = roundHalfEven(b / s);
    if (back === n) return b;
    b = nextFloat32(b, back < n ? 1 : -1);
  }
  return null;
}

/** What a quantized layer's integer simulation computes with: its integer weights (float64, exact), weight scale and bias integers. */
export function layerIntegers(layer: WeightLayer): { weight: T.Tensor; weightScale: T.Tensor; bias: T.Tensor | null } {
  return T.noGrad(() =>
    T.tidy(() => {
      const stored = layer.storedWeight(); // also brings the weight scale up to date while observing
      const own = layer.stateDict();
      const weightScale = own.get('weight_scale')!;
      const bias = layer.bias && Q.biasIntegers(layer.bias, own.get('input_scale')!, weightScale);
      return { weight: Q.integersOf(stored, weightScale), weightScale: weightScale.clone(), bias };
    }),
  );
}

/**
 * Writes a quantized model (prepareQuantized, with observed input ranges) as integers and scales
 * (format micronet-quantized/1), with the metadata that rebuilds it. Refuses a layer whose input
 * range was never observed and a bias beyond int32.
 */
export function saveQuantizedCheckpoint(
  path: string,
  model: Module,
  name: string,
  config: object,
  dataset?: DatasetName,
  data?: DataSource,
): void {
  const owned = new Set<string>();
  const tensors = new Map<string, T.Tensor>();
  const packedShapes: Record<string, number[]> = {};
  try {
    for (const [layerName, layer] of plannedLayers(model)) {
      const bits = layer.bits!;
      const key = (n: string) => `${layerName}.${n}`;
      const own = layer.stateDict();
      for (const k of own.keys()) owned.add(key(k));
      const [min, max] = [own.get('input_min')!.item(), own.get('input_max')!.item()];
      if (!Number.isFinite(min) || !Number.isFinite(max))
        throw new Error(`${layerName}: its input range was never observed (run training forwards before saving)`);
      const kind = storage(bits.weight);
      if (kind === 'packed') packedShapes[key('weight')] = [...layer.weight.shape];
      const stored = T.tidy(() => {
        const q = layerIntegers(layer);
        const out = new Map<string, T.Tensor>();
        out.set(
          key('weight'),
          kind === 'packed'
            ? T.tensor(packSigned(q.weight.data<'float64'>(), bits.weight), { dtype: 'uint8' })
            : q.weight.to(kind),
        );
        out.set(key('weight_scale'), q.weightScale);
        if (q.bias) {
          const largest = q.bias.abs().max().item();
          if (largest > int32Max)
            throw new Error(
              `${layerName}: a bias of ${largest} units of input_scale*weight_scale does not fit int32 (weights and inputs this wide need a wider accumulator than the 32 bits the counting assumes)`,
            );
          out.set(key('bias'), q.bias.to('int32'));
        }
        for (const n of Object.keys(inputTensors)) out.set(key(n), own.get(n)!.clone());
        return out;
      });
      for (const [k, t] of stored) tensors.set(k, T.keep(t));
    }
    const others = [...model.stateDict()].filter(([k]) => !owned.has(k));
    writeSafetensors(path, new Map([...tensors, ...others]), {
      ...modelMetadata(quantizedCheckpointFormat, model, name, config, dataset, data),
      ...(Object.keys(packedShapes).length ? { [packedShapesKey]: JSON.stringify(packedShapes) } : {}),
    });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** The integer weights of a layer from the file's tensor, every check naming the file. */
function readIntegers(
  t: T.Tensor | undefined,
  key: string,
  bits: number,
  shape: readonly number[],
  packedShape: unknown,
  path: string,
): Int32Array {
  const bad = (problem: string) => new Error(`${path}: ${key} ${problem}`);
  if (!t) throw bad('is missing');
  const count = shape.reduce((a, b) => a * b, 1);
  const kind = storage(bits);
  if (kind === 'packed') {
    if (
      !Array.isArray(packedShape) ||
      packedShape.length !== shape.length ||
      !packedShape.every((d, i) => d === shape[i])
    ) {
      throw bad(
        packedShape === undefined
          ? `is packed, but metadata '${packedShapesKey}' records no shape for it (the model's is [${shape.join(', ')}])`
          : `is packed with recorded shape ${shown(packedShape)} in metadata '${packedShapesKey}', the model's is [${shape.join(', ')}]`,
      );
    }
    const bytes = packedBytes(count, bits);
    if (t.dtype !== 'uint8' || t.ndim !== 1)
      throw bad(`must be ${bits}-bit integers packed as uint8 [${bytes}], got ${t.dtype} [${t.shape.join(', ')}]`);
    if (t.numel !== bytes)
      throw bad(`has ${t.numel} packed bytes, ${count} ${bits}-bit weights take ${bytes} (wrong packed size)`);
    try {
      return unpackSigned(t.data<'uint8'>(), bits, count);
    } catch (e) {
      throw bad((e as Error).message);
    }
  }
  if (t.dtype !== kind || !T.sameShape(t.shape, shape))
    throw bad(`must be ${kind} [${shape.join(', ')}] for ${bits}-bit weights, got ${t.dtype} [${t.shape.join(', ')}]`);
  const ints = Int32Array.from(t.data<typeof kind>());
  const { min, max } = Q.signedRange(bits);
  const outside = ints.findIndex((v) => v < min || v > max);
  if (outside >= 0) throw bad(`holds ${ints[outside]}, outside the signed ${bits}-bit range ${min}..${max}`);
  return ints;
}

/**
 * Observers never give a scale below eps; one far outside [eps, 2^32] is damage, and would
 * otherwise surface later as a bias with no float32 value.
 */
function checkScales(path: string, key: (n: string) => string, inputScale: number, weightScales: Float32Array): void {
  const all = [inputScale, ...weightScales];
  const i = all.findIndex((v) => !(v >= Q.eps && v <= 2 ** 32));
  if (i >= 0)
    throw new Error(
      `${path}: ${i === 0 ? key('input_scale') : `${key('weight_scale')}[${i - 1}]`} = ${all[i]} is outside [2^-23, 2^32], the range of scales an observer gives`,
    );
}

/**
 * Sets a model, built and prepared with the file's plan, to a quantized checkpoint's values:
 * weights integer*scale (float32: exactly the fake-quantized weights), masks where the integers
 * are non-zero, biases the float32 values whose integer simulation rounds to the stored int32,
 * scales and ranges as stored. The ranges and scales then stay frozen and eval computes with the
 * integer simulation. The file's tensors are not disposed; errors name `path`.
 */
export function restoreQuantized(model: Module, file: TensorFile, path: string): void {
  const { tensors, metadata } = file;
  const layers = plannedLayers(model);
  const packedShapes = packedShapesOf(metadata, path);
  const consumed = new Set<string>();
  T.noGrad(() =>
    T.tidy(() => {
      const values = new Map<string, T.Tensor>();
      for (const [layerName, layer] of layers) {
        const bits = layer.bits!;
        const key = (n: string) => `${layerName}.${n}`;
        const get = (n: string, dtype: T.DType, shape: number[]) => {
          const t = tensors.get(key(n));
          if (!t) throw new Error(`${path}: ${key(n)} is missing`);
          if (t.dtype !== dtype || !T.sameShape(t.shape, shape))
            throw new Error(
              `${path}: ${key(n)} must be ${dtype} [${shape.join(', ')}], got ${t.dtype} [${t.shape.join(', ')}]`,
            );
          consumed.add(key(n));
          return t;
        };
        const shape = layer.weight.shape;
        const c = shape[0]!;
        const ints = readIntegers(
          tensors.get(key('weight')),
          key('weight'),
          bits.weight,
          shape,
          packedShapes[key('weight')],
          path,
        );
        consumed.add(key('weight'));
        const weightScale = get('weight_scale', 'float32', [c]);
        const input = Object.fromEntries(
          Object.entries(inputTensors).map(([n, dtype]) => [n, get(n, dtype, [])]),
        ) as Record<keyof typeof inputTensors, T.Tensor>;
        const scales = weightScale.data<'float32'>();
        const s = input.input_scale.item();
        checkScales(path, key, s, scales);
        const z = input.input_zero_point.item();
        const { min: zMin, max: zMax } = Q.unsignedRange(bits.input);
        if (z < zMin || z > zMax)
          throw new Error(`${path}: ${key('input_zero_point')} ${z} is outside the unsigned ${bits.input}-bit range`);
        const [lo, hi] = [input.input_min.item(), input.input_max.item()];
        if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi))
          throw new Error(`${path}: ${layerName}'s input range [${lo}, ${hi}] is not a finite range`);

        const integers = T.tensor(Float32Array.from(ints), { shape: [...shape] });
        values.set(key('weight'), integers.mul(weightScale.reshape([c, ...Array(shape.length - 1).fill(1)])));
        if (layer.masked) values.set(key('mask'), integers.ne(0).to('float32'));
        if (layer.bias) {
          const biasInts = get('bias', 'int32', [c]).data<'int32'>();
          const bias = Float32Array.from(biasInts, (n, i) => {
            const b = biasFor(n, s * scales[i]!);
            if (b === null)
              throw new Error(`${path}: ${key('bias')}[${i}] = ${n} units of ${s * scales[i]!} has no float32 value`);
            return b;
          });
          values.set(key('bias'), T.tensor(bias));
        }
        for (const [n, t] of Object.entries({ weight_scale: weightScale, ...input })) values.set(key(n), t);
        values.set(key('weight_zero_point'), T.zeros([c], { dtype: 'int32' })); // symmetric weights
      }
      // The model's other tensors, stored as they are; a key a quantized layer derives is not taken from the file.
      for (const [k, t] of tensors) {
        if (consumed.has(k)) continue;
        if (values.has(k)) throw new Error(`${path}: unexpected tensor ${k} (a quantized checkpoint derives it)`);
        values.set(k, t);
      }
      model.loadStateDict(values, { what: path });
    }),
  );
  setObserving(model, false);
  setIntegerSimulation(model, true);
}

/** The metadata's record of packed weights' shapes (checked against the model per tensor). */
function packedShapesOf(metadata: Record<string, string>, path: string): Record<string, unknown> {
  const text = metadata[packedShapesKey];
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new Error(`${path}: metadata '${packedShapesKey}' is not a JSON object of shapes`);
}
