// Training: the trainer and its pieces (SGD, schedules, losses, steps, evaluation, run state).
export {
  train, RunFinishedError, TrainingError, lastCheckpoint, bestCheckpoint, quantizedCheckpoint, metricsFile,
  type TrainEvents, type TrainOptions, type TrainResult,
} from './trainer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { learningRate, type ScheduleConfig, type QatSchedule, type StepPosition } from './schedule.js';
export { trainingLoss, type LossConfig } from './loss.js';
export { beginEpoch, readStep, trainStep, type StepResult, type EpochRecipe, type StepRecipe, type QuantizationPhase } from './step.js';
export { evaluate, prepareFastEval, type EvalResult } from './evaluate.js';
export { readTrainState, type TrainState, type EpochMetrics, type Position } from './state.js';
export { RunDirectory, RunLockedError } from './run-dir.js';
export { worldFromEnv, type World, type WorldEnv } from './data-parallel.js';
