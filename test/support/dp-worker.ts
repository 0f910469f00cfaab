// One rank of a data-parallel run driven through the library, for the tests: joins the group
// from the torchrun environment, trains the recipe given as JSON on generated data, and writes
// its final state (parameters, buffers, momentum) to <out>/rank<R>.safetensors.
import { join } from 'node:path';
import * as T from '../../src/torch/index.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { train } from '../../src/train/trainer.js';
import { worldFromEnv } from '../../src/train/data-parallel.js';
import type { Recipe } from '../../src/recipes/index.js';
import { dpData } from './dp-data.js';

const [recipeJson, outDir] = process.argv.slice(2) as [string, string];
const env = worldFromEnv();
// The test runner loads every file under test/, this one too: without a world it has nothing to do.
if (env) await runRank(env);

async function runRank(env: NonNullable<ReturnType<typeof worldFromEnv>>): Promise<void> {
  const group = new T.ProcessGroup({
    host: env.host,
    port: env.port,
    rank: env.rank,
    worldSize: env.size,
    timeoutMs: 30_000,
  });
  const result = await train(JSON.parse(recipeJson) as Recipe, {
    dataDir: '',
    outDir,
    data: dpData(),
    world: { group, rank: env.rank, size: env.size },
  });
  const state = new Map(result.model.stateDict());
  writeSafetensors(join(outDir, `rank${env.rank}.safetensors`), state);
  group.close();
}
