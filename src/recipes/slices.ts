// The slices a recipe is made of, each the configuration of one part of training: the parts take
// their slice (the schedule its ScheduleConfig, the loss its LossConfig) and never the whole recipe.
import type { QuantizationConfig } from '../quant/prepare.js';
import type { GradientMasking, PruneEvent } from '../prune/prune.js';

export type { GradientMasking, PruneEvent };

/** The training loss: label smoothing e and its form. */
export interface LossConfig {
  smoothing: number;
  /**
   * 'uniform': PyTorch's form, targets 1-e+e/K and e/K (micronet-seed).
   * 'others': the entry's notebook, targets 1-e for the class and e/(K-1) for each other one.
   */
  form: 'uniform' | 'others';
}

/** The learning-rate schedule: warm-up, then multistep decay. */
export interface ScheduleConfig {
  lr: number;
  /** Epochs of per-batch linear warm-up: lr * t / T, t = 1..T, T = warmupEpochs * batches per epoch. */
  warmupEpochs: number;
  /** Epochs from which the rate drops by gamma (each milestone m counts from epoch m on). */
  milestones: number[];
  gamma: number;
  /** Gamma of the fresh multistep schedule started at each pruning event (id56-notebook); null: unchanged. */
  gammaAfterPrune: number | null;
}

/** The learning rate of a quantization-aware phase: from startEpoch, lr dropping by gamma at each milestone. */
export interface QatSchedule {
  startEpoch: number;
  lr: number;
  milestones: number[];
  gamma: number;
}

/** Quantization-aware training from `startEpoch` to the end: BatchNorm folded, bits per layer, its own learning rate. */
export interface QuantizationPhase extends QuantizationConfig, QatSchedule {
  /** Input ranges frozen from this epoch on (null: they move until the end). */
  freezeEpoch: number | null;
}

/** Pruning: q times each layer's weight std, the events, and how gradients keep pruned weights at zero. */
export interface PruningConfig {
  q: number;
  events: PruneEvent[];
  gradientMasking: GradientMasking;
}
