// weblora's entry: `main(argv, io)` is the whole CLI as a function (tests call it in-process);
// `runCli()` binds it to the real process: streams, Ctrl-C, exit code.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { COMMANDS, findCommand, topHelp } from './commands';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, exitCodeOf } from './shared/errors';
import { parseFlags } from './shared/flags';
import { Interrupts, type CliIO } from './shared/io';
import { printable } from './shared/printable';

export type { CliIO } from './shared/io';
export { Interrupts } from './shared/io';

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(topHelp());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const about = rest[0] === undefined ? undefined : findCommand(rest[0]);
    io.stdout(about ? `${about.help}\n` : topHelp());
    return EXIT_OK;
  }
  const command = findCommand(name);
  try {
    if (!command) {
      throw new UsageError(`unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
    }
    // Before parsing, so `--help` works even next to a mistake.
    const beforeEnd = rest.indexOf('--') === -1 ? rest : rest.slice(0, rest.indexOf('--'));
    if (beforeEnd.includes('--help') || beforeEnd.includes('-h')) {
      io.stdout(`${command.help}\n`);
      return EXIT_OK;
    }
    return await command.exec(parseFlags(name, rest, command.options), io);
  } catch (e) {
    return reportError(e, command?.name, io);
  }
}

function reportError(e: unknown, command: string | undefined, io: CliIO): number {
  const who = command ? `weblora ${command}` : 'weblora';
  if (e instanceof UsageError) {
    const help = e.command ? `weblora ${e.command} --help` : 'weblora --help';
    io.stderr(`${who}: ${e.message}\nRun '${help}' for usage.\n`);
    return EXIT_USAGE;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  // One line: engine messages are sentences already; a stack is for bug reports only.
  // Messages quote keys, roles, names and tensor names from files: never raw control characters.
  io.stderr(`${who}: error: ${printable(err.message.replace(/\s*\n\s*/g, ' '))}\n`);
  if (io.env.WEBLORA_DEBUG === '1' && err.stack) io.stderr(`${err.stack}\n`);
  return EXIT_FAILURE;
}

/** The process side: real streams, SIGINT, exit code. Never returns. */
export async function runCli(argv: readonly string[] = process.argv.slice(2)): Promise<never> {
  const interrupts = new Interrupts();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupts.fire(signal)) return;
      process.stderr.write(`\n${signal === 'SIGINT' ? 'interrupted' : 'terminated'}\n`);
      process.exit(exitCodeOf(signal));
    });
  }
  // `weblora generate ... | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
    throw e;
  });
  const io: CliIO = {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
    interrupts,
  };
  const code = await main(argv, io);
  // Exit explicitly: Dawn (WebGPU) keeps handles open that would hold the process alive.
  process.stdout.write('', () => process.exit(code));
  return new Promise<never>(() => {});
}

// Run directly (`tsx src/cli/main.ts ...`, the `npm run weblora` script); bin/weblora.mjs calls runCli itself.
if (isEntryPoint()) void runCli();

function isEntryPoint(): boolean {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
