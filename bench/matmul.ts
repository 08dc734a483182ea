// The matmul probe's command line (bench/lib/matmul-probe.ts): `npx tsx bench/matmul.ts [flags]`,
// or `npm run bench -- --matmul [flags]` (bench/run.ts hands the flags over, so the GPU bundle's
// bench.mjs runs it too: `node bench.mjs --matmul ...`). Prints a table, writes a JSON report.
import { tf } from '../src/engine/tf';
import { installNodeWebGPU } from '../src/engine/backend-node';
import { startBackend } from './lib/measure';
import { DEFAULT_CANDIDATES, formatProbe, probeProblems, PROBE_SCHEMA, runMatmulProbe, SHAPE_SETS, type ProbeRow, type ShapeSet } from './lib/matmul-probe';
import { defaultOutPath, gitInfo, machineInfo, softwareInfo, writeReport } from './lib/node';
import { int, list, peakTflops } from './lib/args';
import type { BackendDescription } from './lib/schema';

export const MATMUL_USAGE = `npx tsx bench/matmul.ts [flags]   (or: npm run bench -- --matmul [flags])

  --shapes LIST     ${SHAPE_SETS.join(',')} (default 4096,models; with --swiftshader: small)
                    4096: 4096³ x·Wᵀ and dy·W; models: every frozen product (x·Wᵀ, dy·W) of
                    ${'SmolLM2-135M, SmolLM2-360M, Qwen2.5-0.5B'} at M = 2,048 and 8,192; small: a 256³ and
                    stories260K's products at M = 130
  --tiles LIST      candidates by name (default: all — ${DEFAULT_CANDIDATES.map((c) => c.name).join(', ')})
  --repeats N       products queued back to back per timing (default 10)
  --peak-tflops X   the device's peak, for the table's % of peak
  --swiftshader     WebGPU on SwiftShader (CPU Vulkan): correctness only, not speed
  --out FILE        JSON report (default bench/results/matmul-<time>.json)
`;

export interface MatmulArgs {
  shapes: ShapeSet[];
  tiles: string[] | null;
  repeats: number;
  peakTflops: number | null;
  swiftshader: boolean;
  out: string | null;
  help: boolean;
}

export function parseMatmulArgs(argv: readonly string[]): MatmulArgs {
  const args: MatmulArgs = { shapes: [], tiles: null, repeats: 10, peakTflops: null, swiftshader: false, out: null, help: false };
  const rest = [...argv];
  while (rest.length) {
    let flag = rest.shift()!;
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) [flag, value] = [flag.slice(0, eq), flag.slice(eq + 1)];
    const take = () => {
      const v = value ?? rest.shift();
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--shapes':
        args.shapes = list(take()).map((s) => {
          if (!(SHAPE_SETS as readonly string[]).includes(s)) throw new Error(`--shapes: unknown set "${s}" (choose from ${SHAPE_SETS.join(', ')})`);
          return s as ShapeSet;
        });
        break;
      case '--tiles': {
        const names = list(take());
        const unknown = names.filter((n) => !DEFAULT_CANDIDATES.some((c) => c.name === n));
        if (unknown.length) throw new Error(`--tiles: unknown ${unknown.join(', ')} (choose from ${DEFAULT_CANDIDATES.map((c) => c.name).join(', ')})`);
        args.tiles = names;
        break;
      }
      case '--repeats':
        args.repeats = int('repeats', take(), 1);
        break;
      case '--peak-tflops':
        args.peakTflops = peakTflops(take());
        break;
      case '--swiftshader':
        args.swiftshader = true;
        break;
      case '--out':
        args.out = take();
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new Error(`unknown flag "${flag}"\n\n${MATMUL_USAGE}`);
    }
  }
  if (!args.shapes.length) args.shapes = args.swiftshader ? ['small'] : ['4096', 'models'];
  return args;
}

export interface MatmulReport {
  schema: typeof PROBE_SCHEMA;
  createdAt: string;
  command: string;
  git: ReturnType<typeof gitInfo>;
  machine: Record<string, unknown>;
  software: Record<string, string>;
  backend: BackendDescription;
  config: Omit<MatmulArgs, 'help' | 'out'>;
  /** False while the probe is still running (the report is rewritten after every problem). */
  complete: boolean;
  rows: ProbeRow[];
  /** Candidates that failed the float64 check on some problem (a bug, whatever their speed). */
  wrong: string[];
}

export async function matmulMain(argv: readonly string[], log = (line: string) => process.stderr.write(`${line}\n`)): Promise<number> {
  let args: MatmulArgs;
  try {
    args = parseMatmulArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(MATMUL_USAGE);
    return 0;
  }
  tf.enableProdMode();
  if (!(await installNodeWebGPU({ swiftshader: args.swiftshader }))) throw new Error('no WebGPU in this Node (the webgpu package)');
  const { description } = await startBackend('webgpu');
  if (description.name !== 'webgpu') throw new Error(`the probe needs WebGPU; got ${description.name} (${description.reason})`);
  log(`webgpu: ${description.reason}`);
  const candidates = args.tiles ? DEFAULT_CANDIDATES.filter((c) => args.tiles!.includes(c.name)) : DEFAULT_CANDIDATES;
  const { help: _h, out: _o, ...config } = args;
  const outPath = args.out ?? defaultOutPath('matmul');
  const report = (rows: ProbeRow[], complete: boolean): MatmulReport => ({
    schema: PROBE_SCHEMA,
    createdAt: new Date().toISOString(),
    command: argv.join(' '),
    git: gitInfo(),
    machine: machineInfo(),
    software: softwareInfo(),
    backend: description,
    config,
    complete,
    rows,
    wrong: [...new Set(rows.flatMap((r) => r.results.filter((x) => !x.ok).map((x) => x.candidate)))],
  });
  // Written after every problem, so a run cut short by a timeout still leaves its measurements.
  const onRow = async (rows: readonly ProbeRow[]) => void (await writeReport(outPath, report([...rows], false) as never));
  const rows = await runMatmulProbe(probeProblems(args.shapes), { repeats: args.repeats, candidates, log, onRow });
  const final = report(rows, true);
  const wrong = final.wrong;
  process.stdout.write(`\n${formatProbe(rows, args.peakTflops)}\n`);
  if (wrong.length) process.stdout.write(`\nWRONG results (failed the float64 check): ${wrong.join(', ')}\n`);
  const path = await writeReport(outPath, final as never);
  process.stdout.write(`\nwrote ${path}\n`);
  return wrong.length ? 1 : 0;
}

if (/bench[/\\]matmul\.ts$|[/\\]matmul\.mjs$/.test(process.argv[1] ?? '')) {
  matmulMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
