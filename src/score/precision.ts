// The bit widths each layer is counted at: one width for everything (32, the 16-bit freebie, or a
// what-if), or the model's own, where a value that no quantized layer narrows stays 32-bit.
import { shown } from '../text.js';
import { WeightLayer, type LayerBits, type Module } from '../nn/index.js';

/** How wide the scored model's stored values and multiplies are. */
export interface PrecisionOptions {
  /**
   * N (1..32): every weight, bias and multiply at N bits, quantized layers' own bits ignored:
   * 32 is no freebie, 16 the freebie (unquantized models only), below 16 a what-if.
   * 'model': as the model is: a quantized layer's weights at its weight bits, its bias at 32
   * (int32, as in integer inference), its multiplies at the wider of its weight and input bits;
   * every other parameter and multiply at 32 (a value no layer quantizes is a 32-bit float).
   */
  bits: number | 'model';
  /** Score the architecture: every weight counts as non-zero, whatever values it happens to hold. */
  dense?: boolean;
}

/** The widths a layer is counted at; only those that apply to it are present. */
export interface LayerPrecision {
  /** Bits of each stored weight (conv, linear; a BatchNorm's scale under the id56 rules). */
  weight?: number;
  /** Bits of each stored bias value (with a BatchNorm shift folded in under the official rules). */
  bias?: number;
  /** Bits of a multiply's operands: a multiply counts mult/32 of an operation. */
  mult?: number;
  /** The layer's own quantization, present when the model's bits are counted. */
  quantized?: LayerBits;
}

/** The conv/linear layers of a model that are quantized, by name. */
export function quantizedLayers(model: Module): [string, WeightLayer][] {
  return model
    .namedModules()
    .filter((e): e is [string, WeightLayer] => e[1] instanceof WeightLayer && e[1].bits !== null);
}

/** Refuses widths outside 1..32 and the freebie on a quantized model. */
export function checkPrecision(model: Module, bits: number | 'model'): void {
  if (bits === 'model') return;
  if (!(Number.isInteger(bits) && bits >= 1 && bits <= 32))
    throw new Error(`bits must be an integer in 1..32 or 'model', got ${shown(bits)}`);
  const quantized = quantizedLayers(model);
  if (bits === 16 && quantized.length) {
    const [name, layer] = quantized[0]!;
    throw new Error(
      `the 16-bit freebie applies to unquantized models only: layer '${name}' is quantized (${bitsLabel(layer.bits!)}); score it with its own bits ('model') or another width`,
    );
  }
}

/** A conv or linear layer's widths: all of them apply. */
type WeightPrecision = Required<Omit<LayerPrecision, 'quantized'>> & Pick<LayerPrecision, 'quantized'>;

/** A conv or linear layer's widths. */
export function weightPrecision(m: WeightLayer, bits: number | 'model'): WeightPrecision {
  if (bits !== 'model') return { weight: bits, bias: bits, mult: bits };
  const q = m.bits;
  if (!q) return { weight: 32, bias: 32, mult: 32 };
  return { weight: q.weight, bias: 32, mult: Math.max(q.weight, q.input), quantized: { ...q } };
}

/** The width of any other stored value or multiply (ReLU, average pool, an unfolded BatchNorm). */
export const floatWidth = (bits: number | 'model'): number => (bits === 'model' ? 32 : bits);

/** The one width every row is counted at, or 'mixed'. */
export function uniformWidth(
  bits: number | 'model',
  rows: readonly { precision?: LayerPrecision }[],
): number | 'mixed' {
  if (bits !== 'model') return bits;
  const widths = new Set(
    rows.flatMap(({ precision: p }) => (p ? [p.weight, p.bias, p.mult].filter((w) => w !== undefined) : [])),
  );
  if (widths.size > 1) return 'mixed';
  return widths.values().next().value ?? 32;
}

/** Notes that say what a width means for this model. */
export function precisionNotes(model: Module, bits: number | 'model'): string[] {
  const quantized = quantizedLayers(model).length > 0;
  if (bits === 'model') {
    return quantized
      ? [
          'quantized layers: weights at their bits, bias int32, multiplies at the wider of weight and input bits; every other value and multiply 32-bit',
        ]
      : ['no quantized layer: every parameter and multiply counted at 32 bits'];
  }
  if (quantized)
    return [`what-if: every parameter and multiply at ${bits} bits; the quantized layers' own bits are ignored`];
  return bits < 16 ? [`what-if: every parameter and multiply at ${bits} bits; the model itself is not quantized`] : [];
}

/** `w8 a8`: a quantized layer's weight and input bits. */
export const bitsLabel = (b: LayerBits): string => `w${b.weight} a${b.input}`;
