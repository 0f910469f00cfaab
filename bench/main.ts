// `npm run bench -- <name>...`: benchmarks that print micronet beside PyTorch in one run.
import { benchData } from './data.js';
import { benchEngine } from './engine.js';
import { benchOps } from './ops.js';

const benches: Record<string, (options: { reps: number }) => Promise<void>> = {
  engine: benchEngine,
  data: benchData,
  ops: benchOps,
};

async function main(argv: string[]): Promise<void> {
  let reps = 5;
  const names: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('--reps=')) reps = Number(arg.slice(7));
    else names.push(arg);
  }
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps=N needs a positive integer');
  if (names.length === 0) names.push(...Object.keys(benches));
  for (const name of names) {
    const bench = benches[name];
    if (!bench) throw new Error(`unknown benchmark '${name}' (known: ${Object.keys(benches).join(', ')})`);
    await bench({ reps });
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
