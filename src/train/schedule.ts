// Learning-rate schedules as pure functions of the training position (epochs count from 1).
import type { QatSchedule, ScheduleConfig } from '../recipes/slices.js';

/** Where a step is: its epoch (from 1) and batch. */
export interface StepPosition {
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  batchesPerEpoch: number;
}

/**
 * The learning rate of one step; pruneEpochs are the epochs that start with a pruning event. A
 * quantization-aware phase, from its start, follows its own schedule.
 */
export function learningRate(
  s: ScheduleConfig,
  pruneEpochs: readonly number[],
  at: StepPosition,
  qat: QatSchedule | null = null,
): number {
  if (qat && at.epoch >= qat.startEpoch)
    return qat.lr * qat.gamma ** qat.milestones.filter((m) => m <= at.epoch).length;
  if (at.epoch <= s.warmupEpochs) {
    const t = (at.epoch - 1) * at.batchesPerEpoch + at.batch + 1;
    return (s.lr * t) / (s.warmupEpochs * at.batchesPerEpoch);
  }
  const pruned = pruneEpochs.some((e) => e <= at.epoch);
  const gamma = pruned && s.gammaAfterPrune !== null ? s.gammaAfterPrune : s.gamma;
  return s.lr * gamma ** s.milestones.filter((m) => m <= at.epoch).length;
}
