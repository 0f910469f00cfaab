// `micronet recipes [NAME|FILE] [--json]`: the recipes there are, or one whole, as `--set` lines or
// as a JSON file to edit and give back with `--recipe FILE`.
import { findRecipe, recipeLines, recipeNames } from '../recipes/index.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { recipeOption } from './options.js';

export const recipesCommand = defineCommand({
  name: 'recipes',
  summary: 'list the built-in recipes, or print one whole (as path=value lines, or with --json as a recipe file)',
  positionals: '[name|file.json]',
  options: {
    json: { type: 'boolean', help: 'JSON: the list as an array, one recipe as a file --recipe takes' },
  },
  run(o) {
    const [name, ...extra] = o._;
    if (extra.length) throw new UsageError(`one recipe at a time, not '${extra.join(' ')}'`);
    if (name !== undefined) {
      const recipe = recipeOption(name);
      console.log(o.json ? JSON.stringify(recipe, null, 2) : recipeLines(recipe).join('\n'));
      return;
    }
    const all = recipeNames().map((n) => findRecipe(n));
    if (o.json) {
      console.log(
        JSON.stringify(
          all.map(({ name, description, epochs, model }) => ({ name, description, epochs, model: model.name })),
        ),
      );
      return;
    }
    const width = Math.max(...all.map((r) => r.name.length));
    for (const r of all) console.log(`${r.name.padEnd(width)}  ${r.model.name}, ${r.epochs} epochs: ${r.description}`);
    console.log('\nmicronet recipes NAME prints one whole; --json writes it as a file to edit and pass to --recipe');
  },
});
