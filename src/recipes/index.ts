export { type Recipe, type PruneEvent, RecipeError, validateRecipe, applyOverrides } from './recipe.js';
export { findRecipe, recipeNames } from './builtin.js';
