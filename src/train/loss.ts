// Training losses: cross-entropy with either label-smoothing form of the seed recipes.
import * as T from '../torch/index.js';
import type { LossConfig } from '../recipes/slices.js';

/** Mean cross-entropy of logits against int64 class indices, with the configured label smoothing. */
export function trainingLoss(logits: T.Tensor, labels: T.Tensor, config: LossConfig): T.Tensor {
  if (config.form === 'uniform' || config.smoothing === 0)
    return T.F.crossEntropy(logits, labels, { labelSmoothing: config.smoothing });
  return T.tidy(() => {
    const classes = logits.size(1);
    const targets = T.full(logits.shape, config.smoothing / (classes - 1), { device: logits.device }).scatter(
      1,
      labels.unsqueeze(1),
      1 - config.smoothing,
    );
    return T.F.crossEntropy(logits.float(), targets);
  });
}
