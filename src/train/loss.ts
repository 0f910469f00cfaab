// Training losses: cross-entropy with either label-smoothing form of the seed recipes.
import * as T from '../torch/index.js';

/** The training loss of a recipe: label smoothing e and its form. */
export interface LossConfig {
  smoothing: number;
  /**
   * 'uniform': PyTorch's form, targets 1-e+e/K and e/K (micronet-seed).
   * 'others': the entry's notebook, targets 1-e for the class and e/(K-1) for each other one.
   */
  form: 'uniform' | 'others';
}

/** Mean cross-entropy of logits against int64 class indices, with the configured label smoothing. */
export function trainingLoss(logits: T.Tensor, labels: T.Tensor, config: LossConfig): T.Tensor {
  if (config.form === 'uniform' || config.smoothing === 0) return T.F.crossEntropy(logits, labels, { labelSmoothing: config.smoothing });
  return T.tidy(() => {
    const classes = logits.size(1);
    const targets = T.full(logits.shape, config.smoothing / (classes - 1), { device: logits.device })
      .scatter(1, labels.unsqueeze(1), 1 - config.smoothing);
    return T.F.crossEntropy(logits.float(), targets);
  });
}
