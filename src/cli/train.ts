// `micronet train` (a recipe end to end) and `micronet smoke` (the main job: the smoke recipe on
// CIFAR-100 or, without it, on generated data).
import { join } from 'node:path';
import { defaultDataDir, describeData, locate, writeSynthetic } from '../data/index.js';
import { recipeNames } from '../recipes/index.js';
import { readTrainState } from '../checkpoint/train-file.js';
import { lastCheckpoint } from '../checkpoint/run-dir.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import {
  checkedDevice,
  defaultOut,
  deviceOption,
  distBackend,
  recipeOption,
  runOutput,
  runOutputArgs,
  runOutputOptions,
} from './options.js';
import { launchRun, resumeRun, runRecipe } from './run-recipe.js';

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train (and prune) a model with a recipe, checkpointing every epoch',
  options: {
    recipe: {
      type: 'string',
      help: `a built-in recipe (${recipeNames().join(', ')}; micronet recipes shows them) or a recipe file (.json)`,
    },
    data: { type: 'string', help: "the CIFAR data directory (default: the user cache; on --resume, the run's own)" },
    out: { type: 'string', help: 'the run directory (default: runs/<recipe>-<time>)' },
    device: deviceOption,
    set: { type: 'list', help: 'override a recipe field: path=value, e.g. epochs=10' },
    resume: { type: 'string', help: 'continue the run in this directory' },
    nproc: {
      type: 'number',
      help: "data-parallel worker processes on this machine, one per GPU on CUDA (the recipe's batch is split over them)",
    },
    timeout: {
      type: 'number',
      help: 'data-parallel: seconds a rank waits for the others before the run fails',
      default: 120,
    },
    'dist-backend': {
      type: 'string',
      help: 'data-parallel on CUDA: nccl (default where the build has it) or gloo (ranks may share a GPU)',
    },
    ...runOutputOptions,
  },
  async run(o) {
    if (!(o.timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, not ${o.timeout}`);
    const device = checkedDevice(o.device);
    const backend = distBackend(o['dist-backend']);
    const output = runOutput(o);
    if (o.resume) {
      if (o.set?.length || o.recipe)
        throw new UsageError('--resume continues the saved recipe: --recipe and --set are not accepted with it');
      if (o.nproc !== undefined) {
        const saved = readTrainState(lastCheckpoint(o.resume)); // a missing or damaged run is reported once, not by every worker
        return launchRun(
          { ...o, nproc: o.nproc },
          device,
          backend,
          saved.recipe,
          ['train', '--resume', o.resume, ...(o.data ? ['--data', o.data] : []), ...runOutputArgs(o)],
          o.resume,
        );
      }
      return resumeRun({
        outDir: o.resume,
        ...(o.data ? { dataDir: o.data } : {}),
        device,
        timeout: o.timeout,
        ...(backend ? { backend } : {}),
        ...output,
      });
    }
    if (!o.recipe) throw new UsageError(`--recipe is needed (${recipeNames().join(', ')}, or a recipe file)`);
    const recipe = recipeOption(o.recipe, o.set ?? []);
    const outDir = o.out ?? defaultOut(recipe.name);
    if (o.nproc !== undefined) {
      // Every worker gets the same run directory (a default one names the time).
      return launchRun(
        { ...o, nproc: o.nproc },
        device,
        backend,
        recipe,
        [
          'train',
          '--recipe',
          o.recipe,
          ...(o.set ?? []).flatMap((s) => ['--set', s]),
          '--out',
          outDir,
          ...(o.data ? ['--data', o.data] : []),
          ...runOutputArgs(o),
        ],
        outDir,
      );
    }
    return runRecipe(recipe, {
      dataDir: o.data ?? defaultDataDir(),
      outDir,
      device,
      resume: false,
      timeout: o.timeout,
      ...(backend ? { backend } : {}),
      ...output,
    });
  },
});

export const smokeCommand = defineCommand({
  name: 'smoke',
  summary:
    'the main job: the smoke recipe end to end (train, prune, evaluate, score) on CIFAR-100, or on generated data without it',
  options: {
    data: { type: 'string', help: 'the CIFAR-100 directory (default: the user cache)' },
    out: { type: 'string', help: 'the run directory (default: runs/smoke-<time>)' },
    set: { type: 'list', help: 'override a recipe field: path=value' },
    device: deviceOption,
    ...runOutputOptions,
  },
  async run(o) {
    const device = checkedDevice(o.device);
    const output = runOutput(o);
    let dataDir = o.data ?? defaultDataDir();
    const recipe = recipeOption('smoke', o.set ?? []);
    const outDir = o.out ?? defaultOut('smoke');
    // With --json, stdout holds the final object alone.
    const say = (line: string) => (output.json ? console.error : console.log)(line);
    let found = true;
    try {
      locate(dataDir, 'cifar100');
    } catch {
      found = false;
    }
    if (found) {
      // A set writeSynthetic made earlier is laid out like the real one: only its marker tells them apart.
      say(
        describeData(dataDir).generated
          ? `a generated CIFAR-100-format set (micronet's, not the real data) found in ${dataDir}: the smoke recipe runs on it`
          : `CIFAR-100 found in ${dataDir}: the smoke recipe runs on the real data`,
      );
    } else {
      dataDir = join(outDir, 'generated-data');
      say(
        `CIFAR-100 is not in ${o.data ?? defaultDataDir()} (\`micronet data download\` fetches it): ` +
          `the smoke recipe runs on a generated CIFAR-100-format set in ${dataDir}`,
      );
      writeSynthetic(dataDir, { dataset: 'cifar100', train: 2560, test: 512, seed: recipe.seed });
    }
    await runRecipe(recipe, { dataDir, outDir, device, resume: false, ...output });
  },
});
