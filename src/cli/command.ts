// What a `micronet` subcommand is: a name, a summary, typed options, and a run function.
import { parseArgs, usage, UsageError, type OptionsSpec, type Parsed } from './args.js';

export interface Command<S extends OptionsSpec = OptionsSpec> {
  name: string;
  summary: string;
  /** The positional arguments as the usage line shows them, e.g. `<run-dir>...` (none if absent). */
  positionals?: string;
  options: S;
  run(options: Parsed<S>): Promise<void> | void;
}

export function defineCommand<S extends OptionsSpec>(command: Command<S>): Command<S> {
  return command;
}

export async function runCommand(command: Command, argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(commandHelp(command));
    return;
  }
  const parsed = parseArgs(command.name, command.options, argv);
  if (!command.positionals && parsed._.length)
    throw new UsageError(`unexpected argument '${parsed._[0]}' (\`micronet ${command.name}\` takes options only)`);
  await command.run(parsed);
}

/** A command's help: its usage line, summary and options. */
export function commandHelp(command: Command): string {
  return usage(command.name, command.summary, command.options, command.positionals);
}
