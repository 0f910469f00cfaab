#!/usr/bin/env node
// The `micronet` command.
import { createRequire } from 'node:module';
import { describeEngine } from '../torch/index.js';
import { UsageError } from './args.js';
import { RecipeError } from '../recipes/index.js';
import { commandHelp, runCommand, type Command } from './command.js';
import { exitOnSignals } from './signals.js';
import { benchCommand } from './bench.js';
import { dataCommand } from './data.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { scoreCommand } from './score.js';
import { quantizeCommand } from './quantize.js';
import { reportCommand } from './report.js';
import { pruneCommand } from './prune.js';
import { recipesCommand } from './recipes.js';
import { smokeCommand, trainCommand } from './train.js';

const commands = [
  smokeCommand,
  trainCommand,
  recipesCommand,
  pruneCommand,
  quantizeCommand,
  evalCommand,
  exportCommand,
  scoreCommand,
  reportCommand,
  importCommand,
  dataCommand,
  benchCommand,
] as unknown as Command[];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  return [
    'usage: micronet <command> [options]   (micronet help <command> for its options; micronet --version)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

/** `micronet --version`: micronet's release and the engine's. */
function version(): string {
  const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };
  return `micronet ${version}\n${describeEngine()}`;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if ((name === '--version' || name === '-V') && !rest.length) {
    console.log(version());
    return;
  }
  if (name === 'help' && rest.length) {
    const [topic, ...extra] = rest;
    const command = commands.find((c) => c.name === topic);
    if (!command || extra.length) throw new UsageError(`no command '${rest.join(' ')}'\n\n${help()}`);
    console.log(commandHelp(command));
    return;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return;
  }
  if (!name) throw new UsageError(`a command is needed\n\n${help()}`);
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command '${name}'\n\n${help()}`);
  await runCommand(command, rest);
}

exitOnSignals();
main(process.argv.slice(2)).catch((e: unknown) => {
  // A recipe that is unknown, invalid or cannot take an override was asked for on the command line.
  if (e instanceof UsageError || e instanceof RecipeError) {
    console.error(`micronet: ${e.message}`);
    process.exit(2);
  }
  // A worker of a data-parallel run says which rank it is.
  const rank = process.env.WORLD_SIZE && process.env.RANK !== undefined ? ` (rank ${process.env.RANK})` : '';
  console.error(`micronet${rank}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
