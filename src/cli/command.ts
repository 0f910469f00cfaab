// What a `micronet` subcommand is: a name, a summary, typed options, and a run function.
import { parseArgs, usage, type OptionsSpec, type Parsed } from './args.js';

export interface Command<S extends OptionsSpec = OptionsSpec> {
  name: string;
  summary: string;
  options: S;
  run(options: Parsed<S>): Promise<void> | void;
}

export function defineCommand<S extends OptionsSpec>(command: Command<S>): Command<S> {
  return command;
}

export async function runCommand(command: Command, argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage(command.name, command.summary, command.options));
    return;
  }
  await command.run(parseArgs(command.name, command.options, argv));
}
