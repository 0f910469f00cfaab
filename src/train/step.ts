// One training step and the start of an epoch, as a recipe defines them: the trainer runs these,
// and the PyTorch oracle test drives them on fixed batches.
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { applyMasks, maskGradients, pruneByStd, type PruneResult } from '../prune/prune.js';
import type { Recipe } from '../recipes/index.js';
import { trainingLoss } from './loss.js';
import type { SGD } from './sgd.js';

export class TrainingError extends Error {}

/** The pruning events scheduled before this epoch; a fresh optimizer after each if the recipe says so. */
export function beginEpoch(model: Module, optimizer: SGD, recipe: Recipe, epoch: number): PruneResult[][] {
  return recipe.pruning.events.filter((e) => e.epoch === epoch).map((event) => {
    const results = pruneByStd(model, event.layers, recipe.pruning.q);
    if (recipe.restartOptimizerOnPrune) optimizer.reset();
    applyMasks(model, optimizer.momentumBuffers());
    return results;
  });
}

/**
 * forward (train mode, autocast per the recipe) -> loss -> finite check -> backward -> gradient
 * masking -> SGD step -> masks re-applied (weights and momentum). Returns the loss and the
 * number of correct predictions.
 */
export function trainStep(model: Module, optimizer: SGD, recipe: Recipe, x: T.Tensor, y: T.Tensor, lr: number,
  deviceType: 'cpu' | 'cuda' = 'cpu'): { loss: number; correct: number } {
  return T.tidy(() => {
    const logits = T.autocast({ deviceType, dtype: 'bfloat16', enabled: recipe.precision === 'bfloat16' }, () => model.forward(x, true));
    const l = trainingLoss(logits, y, recipe.loss);
    const loss = l.item();
    if (!Number.isFinite(loss)) throw new TrainingError(`the loss is ${loss}`);
    l.backward();
    maskGradients(model, recipe.pruning.gradientMasking);
    optimizer.step(lr);
    optimizer.zeroGrad();
    applyMasks(model, optimizer.momentumBuffers());
    return { loss, correct: T.noGrad(() => logits.argmax(1).eq(y).sum().item()) };
  });
}
