// One training step and the start of an epoch, as a recipe defines them: the trainer runs these,
// and the PyTorch oracle test drives them on fixed batches.
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import {
  applyMasks,
  maskGradients,
  pruneByStd,
  type GradientMasking,
  type PruneEvent,
  type PruneResult,
} from '../prune/prune.js';
import { planFor, prepareQuantized, setObserving } from '../quant/prepare.js';
import type { LossConfig, QuantizationPhase } from '../recipes/slices.js';
import { trainingLoss } from './loss.js';
import type { Optimizer } from '../optim/index.js';

/** What the start of an epoch uses of a recipe. */
export interface EpochRecipe {
  pruning: { q: number; events: readonly PruneEvent[] };
  restartOptimizerOnPrune: boolean;
  quantization: QuantizationPhase | null;
}

/** What a training step uses of a recipe. */
export interface StepRecipe {
  precision: 'float32' | 'bfloat16';
  loss: LossConfig;
  pruning: { gradientMasking: GradientMasking };
}

/** A run that cannot start or go on: a non-finite loss, a conflicting run directory or checkpoint. */
export class TrainingError extends Error {}

/**
 * The start of an epoch: the pruning events scheduled before it (a fresh optimizer after each if
 * the recipe says so); at the start of quantization-aware training, BatchNorm folded, layers
 * quantized and a fresh optimizer over the new parameters; the observers frozen when due.
 */
export function beginEpoch(model: Module, optimizer: Optimizer, recipe: EpochRecipe, epoch: number): PruneResult[][] {
  const pruned = recipe.pruning.events
    .filter((e) => e.epoch === epoch)
    .map((event) => {
      const results = pruneByStd(model, event.layers, recipe.pruning.q);
      if (recipe.restartOptimizerOnPrune) optimizer.reset();
      applyMasks(model, optimizer);
      return results;
    });
  const q = recipe.quantization;
  if (q && epoch === q.startEpoch) {
    prepareQuantized(model, planFor(model, q));
    optimizer.restart(model.namedParameters());
  }
  if (q && epoch >= q.startEpoch) setObserving(model, observingAt(q, epoch));
  return pruned;
}

/** Whether the model is quantized at this position of the run: from the first step of the phase on. */
export function quantizedAt(q: QuantizationPhase | null, at: { epoch: number; batch: number }): boolean {
  return q !== null && (at.epoch > q.startEpoch || (at.epoch === q.startEpoch && at.batch > 0));
}

/** Whether the input ranges still move in this epoch. */
export function observingAt(q: QuantizationPhase, epoch: number): boolean {
  return q.freezeEpoch === null || epoch < q.freezeEpoch;
}

/** What a step leaves on the device: its mean loss (float32) and its correct predictions (int64), 0-dim tensors. */
export interface StepResult {
  loss: T.Tensor;
  correct: T.Tensor;
}

/**
 * forward (train mode, autocast per the recipe) -> loss -> backward -> gradient masking ->
 * optimizer step -> masks re-applied (weights and the optimizer's state). Returns the loss and the number of correct
 * predictions as device tensors, without waiting for the device: the caller reads them (and
 * checks that the loss is finite) when it needs them. lr is a number or a 0-dim device tensor.
 * `gradients` is told before backward (data-parallel averaging).
 */
export function trainStep(
  model: Module,
  optimizer: Optimizer,
  recipe: StepRecipe,
  x: T.Tensor,
  y: T.Tensor,
  lr: number | T.Tensor,
  deviceType: 'cpu' | 'cuda' = 'cpu',
  gradients?: { beforeBackward(loss: T.Tensor): void },
): StepResult {
  return T.tidy(() => {
    const logits = T.autocast({ deviceType, dtype: 'bfloat16', enabled: recipe.precision === 'bfloat16' }, () =>
      model.forward(x, true),
    );
    const l = trainingLoss(logits, y, recipe.loss);
    gradients?.beforeBackward(l);
    l.backward();
    maskGradients(model, recipe.pruning.gradientMasking);
    optimizer.step(lr);
    optimizer.zeroGrad();
    applyMasks(model, optimizer);
    return { loss: l.detach().float(), correct: T.noGrad(() => logits.argmax(1).eq(y).sum()) };
  });
}

/** A step's figures read from the device (one wait); a non-finite loss is a TrainingError. */
export function readStep(step: StepResult): { loss: number; correct: number } {
  const loss = step.loss.item();
  if (!Number.isFinite(loss)) throw new TrainingError(`the loss is ${loss}`);
  return { loss, correct: step.correct.item() };
}
