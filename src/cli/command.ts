// A subcommand: its flags and help (cheap to load), and its work (loaded only when it runs, so
// `--help` and usage errors answer without starting TF.js).
import type { Flags, OptionSpec } from './shared/flags';
import type { CliIO } from './shared/io';

export interface Command {
  name: string;
  /** One line for `weblora --help`. */
  summary: string;
  /** The full text of `weblora <name> --help`. */
  help: string;
  options: OptionSpec;
  /** Parses (exit 2 on a bad command line), then runs; resolves to the exit code. */
  exec(flags: Flags, io: CliIO): Promise<number>;
}

export interface CommandDefinition<A> {
  name: string;
  summary: string;
  help: string;
  options: OptionSpec;
  parse(flags: Flags): A;
  load(): Promise<(args: A, io: CliIO) => Promise<number>>;
}

export function defineCommand<A>(d: CommandDefinition<A>): Command {
  return {
    name: d.name,
    summary: d.summary,
    help: d.help,
    options: d.options,
    async exec(flags, io) {
      const args = d.parse(flags);
      const run = await d.load();
      return run(args, io);
    },
  };
}
