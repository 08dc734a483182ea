// Command-line flags through Node's util.parseArgs, with the CLI's rules on top: every value is
// checked here (type, range, choices), so a bad command line fails before any model is loaded,
// with a message that names the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
type Value = string | boolean | Array<string | boolean> | undefined;

interface Range {
  min?: number;
  max?: number;
  /** Strictly greater than. */
  above?: number;
  /** Strictly less than. */
  below?: number;
}

export function parseFlags(command: string, argv: readonly string[], options: OptionSpec): Flags {
  try {
    const { values } = parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: false });
    return new Flags(command, values as Record<string, Value>);
  } catch (e) {
    throw new UsageError(usageMessage(e), command);
  }
}

/**
 * `--rank -1` as `--rank=-1`: parseArgs refuses a value that starts with a dash as "ambiguous",
 * which would hide the real message ("--rank: must be at least 1, got -1"). Only for options
 * that take a value, and only for what reads as a number, so a forgotten value before the next
 * flag (`--out --rank 4`) is still caught.
 */
function joinNegativeValues(argv: readonly string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity|inf)/i.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** parseArgs' messages, shortened to the part that says what is wrong. */
function usageMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  const quoted = /'([^']*)'/.exec(msg)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${quoted}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}' (every value belongs to an option, e.g. --prompt "text")`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(msg)) return `option '${quoted?.split(' ')[0]}' needs a value`;
      if (/does not take an argument/.test(msg)) return `option '${quoted}' does not take a value`;
      if (/argument is ambiguous/.test(msg)) {
        const flag = quoted?.split(' ')[0];
        return `option '${flag}' needs a value, and the next argument starts with '-' (a value that does is written ${flag}=VALUE)`;
      }
      return msg.split('. ')[0]!;
    default:
      return msg;
  }
}

export class Flags {
  constructor(
    readonly command: string,
    private readonly values: Record<string, Value>,
  ) {}

  /** Given on the command line (as opposed to left at its default). */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw this.error(`missing required option --${name}`);
    if (v === '') throw this.error(`--${name} must not be empty`);
    return v;
  }

  /** Every value of a repeatable option, in order. */
  strings(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
  }

  bool(name: string): boolean {
    return this.values[name] === true;
  }

  number(name: string, fallback: number, range?: Range): number;
  number(name: string, fallback?: undefined, range?: Range): number | undefined;
  number(name: string, fallback?: number, range: Range = {}): number | undefined {
    const s = this.string(name);
    if (s === undefined) return fallback;
    const n = s.trim() === '' ? NaN : Number(s);
    if (!Number.isFinite(n)) throw this.error(`--${name}: expected a number, got '${s}'`);
    return this.checkRange(name, n, range);
  }

  int(name: string, fallback: number, range?: Range): number;
  int(name: string, fallback?: undefined, range?: Range): number | undefined;
  int(name: string, fallback?: number, range: Range = {}): number | undefined {
    const s = this.string(name);
    if (s === undefined) return fallback;
    const n = /^[+-]?\d+$/.test(s.trim()) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n)) throw this.error(`--${name}: expected a whole number, got '${s}'`);
    return this.checkRange(name, n, range);
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const s = this.string(name);
    if (s === undefined) return fallback;
    if (!(choices as readonly string[]).includes(s)) throw this.error(`--${name}: '${s}' is not one of ${choices.join(', ')}`);
    return s as T;
  }

  /** A comma-separated list, e.g. --targets q_proj,v_proj. */
  list(name: string): string[] | undefined {
    const s = this.string(name);
    if (s === undefined) return undefined;
    const items = s.split(',').map((x) => x.trim()).filter(Boolean);
    if (items.length === 0) throw this.error(`--${name}: expected a comma-separated list, got '${s}'`);
    return items;
  }

  error(message: string): UsageError {
    return new UsageError(message, this.command);
  }

  private checkRange(name: string, n: number, r: Range): number {
    const bad = (what: string) => this.error(`--${name}: must be ${what}, got ${n}`);
    if (r.min !== undefined && n < r.min) throw bad(`at least ${r.min}`);
    if (r.max !== undefined && n > r.max) throw bad(`at most ${r.max}`);
    if (r.above !== undefined && !(n > r.above)) throw bad(`greater than ${r.above}`);
    if (r.below !== undefined && !(n < r.below)) throw bad(`less than ${r.below}`);
    return n;
  }
}
