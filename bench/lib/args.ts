// Flags of `npm run bench` (Node and --browser alike).
import { BACKEND_ORDER, type BackendName } from '../../src/engine/backend';
import { BENCH_MODEL_IDS, benchModel } from './models';
import { variant } from './variants';
import type { BenchConfig } from './schema';
import { parsePrecisions } from './precision';

export const USAGE = `npm run bench -- [flags]

  --models LIST        ${BENCH_MODEL_IDS.join(',')} (default: all)
  --backends LIST      webgpu,wasm,cpu (default: every available; WebGPU counts as available
                       when the adapter is a real GPU, or any adapter with --swiftshader)
  --variants LIST      stock[,fused] (default: stock)
  --precision LIST     fp32[,f16-base] (default: fp32): the frozen base in float32, or stored as
                       float16 (fused WebGPU rows with shader-f16; each row says which half
                       kernel ran: SIMT f16 or subgroup matrices)
  --steps N            timed training steps (default 5)
  --warmup N           untimed steps first (default 2)
  --seq N --batch N    sequence length and batch (default 256, 8)
  --rank N --alpha N   LoRA rank and alpha on all linear layers (default 16, 32)
  --prompt N           generation prompt tokens (default 128)
  --new-tokens N       generated tokens (default 32)
  --peak-tflops X      the device's peak FLOP/s in TFLOP/s, for MFU
  --out FILE           JSON report (default bench/results/<runner>-<time>.json)
  --swiftshader        WebGPU on SwiftShader (CPU Vulkan) in Node; accept software adapters
  --no-profile         skip the tf.profile step (peak bytes, kernel count)
  --no-generate        skip prefill/decode
  --tune               fused WebGPU rows: measure the matmul tile shapes on this device first
  --timestamps         WebGPU rows: one more step timed per kernel family with GPU timestamp
                       queries (where the device has 'timestamp-query'; else the row says so)
  --count-only         WebGPU: count dispatches and tensor bytes of real steps without running
                       the GPU work (for big shapes on SwiftShader); no timings (generation's
                       dispatches per decoded token are counted too)
  --browser            run in headless Chromium (playwright-core) instead of Node
  --chromium PATH      Chromium binary (default $CHROMIUM_PATH or /usr/bin/chromium)
  --chromium-arg ARG   extra Chromium flag (repeatable), e.g. --chromium-arg=--enable-features=Vulkan
  --headed             show the browser window
  --train-check MODEL  instead: MODEL (random weights, exact config) trains a few fused steps on
                       WebGPU with finite, falling loss and flat memory (--batch 2 --seq 128 --steps 3)
  --matmul             the matmul probe instead (its own flags: npm run bench -- --matmul --help)
`;

export interface BenchArgs {
  config: BenchConfig;
  /** Backends named explicitly (then unavailable ones are errors, not skipped). */
  backendsGiven: boolean;
  out: string | null;
  browser: boolean;
  chromium: string | null;
  chromiumArgs: string[];
  headed: boolean;
  help: boolean;
}

export function int(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function peakTflops(v: string): number {
  const p = Number(v);
  if (!(p > 0)) throw new Error('--peak-tflops must be a positive number (TFLOP/s)');
  return p;
}

export function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const config: BenchConfig = {
    models: [...BENCH_MODEL_IDS],
    backends: [...BACKEND_ORDER],
    variants: ['stock'],
    steps: 5,
    warmup: 2,
    seq: 256,
    batch: 8,
    rank: 16,
    alpha: 32,
    promptTokens: 128,
    newTokens: 32,
    peakTflops: null,
    swiftshader: false,
    profile: true,
    generate: true,
  };
  const args: BenchArgs = { config, backendsGiven: false, out: null, browser: false, chromium: null, chromiumArgs: [], headed: false, help: false };
  const rest = [...argv];
  while (rest.length) {
    let flag = rest.shift()!;
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const take = () => {
      const v = value ?? rest.shift();
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--models':
        config.models = list(take()).map((m) => benchModel(m).id);
        break;
      case '--backends': {
        const names = list(take());
        for (const n of names) {
          if (!(BACKEND_ORDER as readonly string[]).includes(n)) throw new Error(`unknown backend "${n}" (choose from ${BACKEND_ORDER.join(', ')})`);
        }
        config.backends = names as BackendName[];
        args.backendsGiven = true;
        break;
      }
      case '--variants':
        config.variants = list(take()).map((v) => variant(v).id);
        break;
      case '--precision':
        config.precisions = parsePrecisions(list(take()));
        break;
      case '--steps':
        config.steps = int('steps', take(), 1);
        break;
      case '--warmup':
        config.warmup = int('warmup', take(), 0);
        break;
      case '--seq':
        config.seq = int('seq', take(), 2);
        break;
      case '--batch':
        config.batch = int('batch', take(), 1);
        break;
      case '--rank':
        config.rank = int('rank', take(), 1);
        break;
      case '--alpha': {
        const a = Number(take());
        if (!(a > 0)) throw new Error('--alpha must be positive');
        config.alpha = a;
        break;
      }
      case '--prompt':
        config.promptTokens = int('prompt', take(), 1);
        break;
      case '--new-tokens':
        config.newTokens = int('new-tokens', take(), 1);
        break;
      case '--peak-tflops':
        config.peakTflops = peakTflops(take());
        break;
      case '--out':
        args.out = take();
        break;
      case '--swiftshader':
        config.swiftshader = true;
        break;
      case '--no-profile':
        config.profile = false;
        break;
      case '--tune':
        config.tune = true;
        break;
      case '--timestamps':
        config.timestamps = true;
        break;
      case '--count-only':
        // Generation stays: its dispatches per decoded token are counted like a step's.
        config.countOnly = true;
        break;
      case '--no-generate':
        config.generate = false;
        break;
      case '--browser':
        args.browser = true;
        break;
      case '--chromium':
        args.chromium = take();
        break;
      case '--chromium-arg':
        args.chromiumArgs.push(take());
        break;
      case '--headed':
        args.headed = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new Error(`unknown flag "${flag}"\n\n${USAGE}`);
    }
  }
  if (config.countOnly) {
    if (args.browser) throw new Error('--count-only runs in Node only');
    if (!args.backendsGiven) config.backends = ['webgpu'];
    else if (config.backends.some((b) => b !== 'webgpu')) throw new Error('--count-only counts WebGPU dispatches: use it with --backends webgpu');
  }
  return args;
}
