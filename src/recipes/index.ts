// Recipes: typed, validated descriptions of a training run; the built-in ones by name.
export { type Recipe, type PruneEvent, type QuantizationPhase, RecipeError, validateRecipe, applyOverrides } from './recipe.js';
export { findRecipe, recipeNames } from './builtin.js';
