// Recipes as JSON files: what `micronet recipes NAME --json` prints, edited and given back with
// `--recipe FILE`, validated like any recipe, with errors that name the file.
import { readFileNamed } from '../io/read.js';
import { flatten } from '../text.js';
import { findRecipe, recipeNames } from './builtin.js';
import { RecipeError, upgradeRecipe, validateRecipe, type Recipe } from './recipe.js';

/** The most bytes a recipe file may have: a recipe is a page of JSON, not a data set. */
const maxRecipeBytes = 1 << 20;

/** The recipe in a JSON file, validated; every problem names the file. */
export function readRecipeFile(path: string): Recipe {
  let bytes: Buffer;
  try {
    bytes = readFileNamed(path);
  } catch (e) {
    throw new RecipeError(`recipe file ${(e as Error).message.replace(/^cannot read /, '')}`);
  }
  if (bytes.length > maxRecipeBytes)
    throw new RecipeError(`${path}: ${bytes.length} bytes is no recipe (at most ${maxRecipeBytes})`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new RecipeError(`${path}: not JSON (${(e as Error).message})`);
  }
  try {
    return validateRecipe(upgradeRecipe(value) as Recipe);
  } catch (e) {
    throw new RecipeError(`${path}: ${(e as Error).message}`);
  }
}

/** Whether a --recipe value names a file rather than a built-in recipe. */
const isRecipePath = (value: string) => /[/\\]/.test(value) || value.toLowerCase().endsWith('.json');

/** A built-in recipe by name, or the recipe in a file (a value with a slash or ending in .json). */
export function resolveRecipe(value: string): Recipe {
  if (isRecipePath(value)) return readRecipeFile(value);
  if (!recipeNames().includes(value))
    throw new RecipeError(
      `unknown recipe '${value}' (built in: ${recipeNames().join(', ')}; or a recipe file, e.g. ./my-recipe.json)`,
    );
  return findRecipe(value);
}

/** A recipe as `path=value` lines, in the form `--set` takes. */
export const recipeLines = (recipe: Recipe): string[] =>
  flatten(recipe).map(([path, value]) => `${path}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
