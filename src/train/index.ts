// Training: the trainer and its pieces (schedules, losses, steps, evaluation, data parallelism).
export {
  train,
  RunFinishedError,
  TrainingError,
  type TrainEvents,
  type TrainOptions,
  type TrainResult,
} from './trainer.js';
export { learningRate, type StepPosition } from './schedule.js';
export { trainingLoss } from './loss.js';
export { beginEpoch, readStep, trainStep, type StepResult, type EpochRecipe, type StepRecipe } from './step.js';
export { evaluate, prepareFastEval, type EvalResult } from './evaluate.js';
export { maxWorldSize, waitForMaster, worldFromEnv, type World, type WorldEnv } from './data-parallel.js';
