// Recipes: typed, validated descriptions of a training run; the built-in ones by name.
export { type Recipe, RecipeError, validateRecipe, applyOverrides, upgradeRecipe } from './recipe.js';
export type {
  LossConfig,
  ScheduleConfig,
  QatSchedule,
  QuantizationPhase,
  PruningConfig,
  PruneEvent,
  GradientMasking,
} from './slices.js';
export { findRecipe, recipeNames } from './builtin.js';
export { readRecipeFile, recipeLines, resolveRecipe } from './file.js';
