/// <reference types="vite/client" />
// The bench page: the same benchmark loop as Node (bench/lib/bench.ts), on Chromium's own
// WebGPU, wasm and cpu. bench/browser/run.ts serves it with stories260K beside it at
// /models/stories260K/, then calls window.weblora_bench.run(config) and reads back the result.
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { tf } from '../../src/engine/tf';
import { runBench, type BenchOutcome } from '../lib/bench';
import { installDispatchCounter } from '../lib/dispatch';
import type { StoriesFiles } from '../lib/models';
import type { BenchConfig } from '../lib/schema';

export interface PageOutcome extends BenchOutcome {
  environment: { userAgent: string; hardwareConcurrency: number; crossOriginIsolated: boolean; deviceMemory: number | null };
}

const STORIES = '/models/stories260K/';

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

const stories: StoriesFiles = {
  config: async () => (await (await fetchOk(`${STORIES}config.json`)).json()) as Record<string, unknown>,
  weights: async () => new Uint8Array(await (await fetchOk(`${STORIES}model.safetensors`)).arrayBuffer()),
};

const logEl = document.getElementById('log');

async function run(config: BenchConfig, backendsGiven: boolean): Promise<PageOutcome> {
  tf.enableProdMode();
  // Vite gives the wasm binaries hashed names, so tell TF.js each file's URL (as the app's worker does).
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlainUrl,
    'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
  });
  const log = (line: string) => {
    console.log(`[bench] ${line}`);
    if (logEl) logEl.textContent += `${line}\n`;
  };
  const outcome = await runBench(config, { counter: installDispatchCounter(), stories, log, backendsGiven });
  return {
    ...outcome,
    environment: {
      userAgent: navigator.userAgent,
      hardwareConcurrency: navigator.hardwareConcurrency,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      deviceMemory: (navigator as Navigator & { deviceMemory?: number }).deviceMemory ?? null,
    },
  };
}

(window as unknown as { weblora_bench: { run: typeof run } }).weblora_bench = { run };
