// The benchmark's own checks (fast): the FLOPs formula against a hand count, a tiny end-to-end
// row on cpu, and the WebGPU dispatch counter on Dawn.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { layerNorms, parameterCount, parseModelConfig } from '../../src/engine/model/config';
import { TARGET_PRESETS } from '../../src/engine/lora/lora';
import { trainingFlops, utilisation } from '../../bench/lib/flops';
import { BENCH_MODELS } from '../../bench/lib/models';
import { parseBenchArgs } from '../../bench/lib/args';
import { runBench } from '../../bench/lib/bench';
import { installDispatchCounter, since, snapshot } from '../../bench/lib/dispatch';
import { trackBuffers } from '../../bench/lib/buffers';
import { formatReport } from '../../bench/lib/table';
import { storiesFromDisk } from '../../bench/lib/node';
import { STORIES_DIR } from '../helpers/paths';

const ALL = TARGET_PRESETS['all-linear'];
const storiesConfig = () => parseModelConfig(JSON.parse(readFileSync(join(STORIES_DIR, 'config.json'), 'utf8')));

describe('training FLOPs', () => {
  it('stories260K, B 8 × T 256, r 16: the hand count', () => {
    // hidden 64, intermediate 172, 5 layers, 8 heads × 8 (q 64), 4 kv heads (k, v 32), vocab 512.
    // Per layer matmul weights: q 64·64 + k 32·64 + v 32·64 + o 64·64 + 3 · 172·64 = 45,312;
    // × 5 = 226,560; lm_head (tied) 512·64 = 32,768; N_matmul = 259,328.
    // LoRA Σ(in + out) per layer: q 128 + k 96 + v 96 + o 128 + 3 · 236 = 1,156; × 5 = 5,780.
    // Per trained token: 4 · 259,328 = 1,037,312 (matmuls, forward + activation backward)
    //   + 12 · 5 layers · 8 heads · 8 · 256 = 983,040 (attention) + 6 · 16 · 5,780 = 554,880 (LoRA).
    const f = trainingFlops({ config: storiesConfig(), seq: 256, batch: 8, rank: 16, targetModules: ALL });
    expect(f.matmulParams).toBe(259_328);
    expect(f.headParams).toBe(32_768);
    expect(f.loraParams).toBe(92_480);
    expect(f.perTokenBreakdown).toEqual({
      matmulForward: 518_656,
      matmulBackward: 518_656,
      attentionForward: 327_680,
      attentionBackward: 655_360,
      loraForward: 184_960,
      loraBackward: 369_920,
    });
    expect(f.perTrainedToken).toBe(2_575_232);
    // The body runs on all 8 · 256 = 2,048 tokens, the head on the 8 · 255 = 2,040 with a target:
    // 2,048 · (2,575,232 − 4 · 32,768) + 2,040 · 4 · 32,768.
    expect(f.tokensPerStep).toBe(2_048);
    expect(f.trainedTokensPerStep).toBe(2_040);
    expect(f.perStep).toBe(5_273_026_560);
    const u = utilisation(f.perStep, 1000, 10);
    expect(u.tflops).toBeCloseTo(0.00527302656, 15);
    expect(u.mfu).toBeCloseTo(0.000527302656, 15);
  });

  it('N_matmul is every parameter but norms, biases and (untied) embeddings, for every bench model', () => {
    for (const spec of Object.values(BENCH_MODELS)) {
      const c = spec.config ? parseModelConfig({ ...spec.config }) : storiesConfig();
      const f = trainingFlops({ config: c, seq: 256, batch: 8, rank: 16, targetModules: ALL });
      const norms = c.hiddenSize * (layerNorms(c).length * c.numLayers + 1) + (c.qkNorm ? 2 * c.numLayers * c.headDim : 0);
      const biases = c.attentionBias ? c.numLayers * (c.numHeads + 2 * c.numKvHeads) * c.headDim : 0;
      const embedding = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize;
      expect(f.matmulParams, spec.id).toBe(parameterCount(c) - norms - biases - embedding);
    }
  });
});

describe('a tiny benchmark run', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });

  it('stories260K on cpu gives finite figures', async () => {
    const { config } = parseBenchArgs(['--models', 'stories260K', '--backends', 'cpu', '--steps', '2', '--warmup', '1', '--seq', '8', '--batch', '2', '--prompt', '6', '--new-tokens', '3', '--peak-tflops', '1']);
    const lines: string[] = [];
    const out = await runBench(config, { counter: null, stories: storiesFromDisk(), log: (l) => lines.push(l), backendsGiven: true });
    expect(out.rows).toHaveLength(1);
    const r = out.rows[0]!;
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('ok');
    expect(r.train!.stepMs).toHaveLength(2);
    expect(r.train!.tokensPerStep).toBe(16);
    expect(r.train!.trainedTokensPerStep).toBe(14);
    for (const x of [r.train!.tokensPerSec, r.train!.stepMsMedian, r.train!.tflops, r.train!.mfu!, r.train!.firstLoss, r.train!.lastLoss]) {
      expect(Number.isFinite(x) && x > 0).toBe(true);
    }
    expect(r.flops!.perStep).toBe(trainingFlops({ config: storiesConfig(), seq: 8, batch: 2, rank: 16, targetModules: ALL }).perStep);
    expect(r.memory!.peakBytes).toBeGreaterThan(r.memory!.baselineBytes);
    expect(r.memory!.stepPeakBufferBytes).toBeGreaterThan(0);
    expect(r.memory!.stepPeakBufferBytes).toBeLessThanOrEqual(r.memory!.stepPeakBytes);
    expect(r.memory!.baselineBytes).toBeGreaterThanOrEqual(r.params!.total * 4);
    expect(r.counts!.tfKernelsPerStep).toBeGreaterThan(100);
    expect(r.counts!.dispatchesPerStep).toBeNull();
    expect(r.generate!.newTokens).toBe(3);
    expect(r.generate!.prefillTokensPerSec).toBeGreaterThan(0);
    expect(r.generate!.decodeTokensPerSec).toBeGreaterThan(0);
    const table = formatReport({
      schema: 'weblora-bench/1',
      runner: 'node',
      createdAt: 'now',
      command: '',
      git: { commit: null, dirty: null },
      machine: {},
      software: {},
      backends: out.backends,
      config,
      rows: out.rows,
    });
    expect(table).toMatch(/stories260K\s+cpu\s+stock\s+fp32\s+2×8 r16/);
    // Compare's base + tuned rows: measured, and printed with the speed-up over one row.
    const pair = r.generate!.baseAndTuned!;
    expect(pair.rows).toBe(2);
    expect(pair.decodeTokensPerSec).toBeGreaterThan(0);
    expect(pair.speedupOverOneRow).toBeCloseTo(pair.decodeTokensPerSec / r.generate!.decodeTokensPerSec, 6);
    expect(table).toContain(`${pair.decodeTokensPerSec.toFixed(2)} (${pair.speedupOverOneRow!.toFixed(2)}×)`);
  });

  it('skips the fused variant off WebGPU without loading anything', async () => {
    const { config } = parseBenchArgs(['--models', 'stories260K', '--backends', 'cpu', '--variants', 'fused']);
    const out = await runBench(config, { counter: null, stories: storiesFromDisk('/nonexistent'), log: () => {}, backendsGiven: true });
    expect(out.rows.map((r) => [r.variant, r.status])).toEqual([['fused', 'skipped']]);
  });
});

describe('distinct-buffer tracking', () => {
  it('counts each buffer once, however many handles share it, and subtracts freed ones', async () => {
    await initBackend({ prefer: 'cpu' });
    const t = trackBuffers();
    const a = tf.zeros([1000]); // +4000
    const b = a.reshape([10, 100]); // shares a's buffer on cpu
    const c = tf.ones([500]); // +2000 → peak 6000
    tf.dispose([a, b]); // last handle of a's buffer: −4000
    const d = tf.ones([250]); // +1000
    const { peakBytes, endBytes } = t.stop();
    expect({ peakBytes, endBytes }).toEqual({ peakBytes: 6000, endBytes: 3000 });
    expect(tf.memory().numBytes).toBeGreaterThanOrEqual(3000);
    const before = tf.memory().numTensors;
    tf.dispose([c, d]);
    expect(tf.memory().numTensors).toBe(before - 2);
    // The engine is itself again: nothing is counted after stop().
    expect(Object.prototype.hasOwnProperty.call(tf.engine(), 'trackTensor')).toBe(false);
  });
});

describe('flags', () => {
  it('parse, and refuse what they do not know', () => {
    const a = parseBenchArgs(['--models=smollm2-135m,stories260K', '--backends', 'wasm', '--variants', 'stock,fused', '--peak-tflops', '989']);
    expect(a.config.models).toEqual(['smollm2-135m', 'stories260K']);
    expect(a.config.backends).toEqual(['wasm']);
    expect(a.config.variants).toEqual(['stock', 'fused']);
    expect(a.config.peakTflops).toBe(989);
    expect(a.backendsGiven).toBe(true);
    expect(parseBenchArgs([]).config).toMatchObject({ seq: 256, batch: 8, rank: 16, promptTokens: 128, newTokens: 32 });
    expect(() => parseBenchArgs(['--models', 'gpt2'])).toThrow(/unknown model/);
    expect(() => parseBenchArgs(['--backends', 'webgl'])).toThrow(/unknown backend/);
    expect(() => parseBenchArgs(['--steps', '0'])).toThrow(/--steps/);
  });
});

describe('the WebGPU dispatch counter on Dawn (SwiftShader)', () => {
  it('counts every dispatch and submit on the device', async (ctx) => {
    if (!(await installNodeWebGPU({ swiftshader: true }))) return ctx.skip();
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return ctx.skip();
    const counter = installDispatchCounter();
    expect(counter).not.toBeNull();
    expect(installDispatchCounter()).toBe(counter);
    const device = await adapter.requestDevice();
    const module = device.createShaderModule({
      code: '@group(0) @binding(0) var<storage, read_write> x: array<u32>;\n@compute @workgroup_size(1) fn main() { x[0] = x[0] + 1u; }',
    });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const buffer = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
    const before = snapshot(counter!);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < 3; i++) pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    expect(since(counter!, before)).toEqual({ dispatches: 3, submits: 1 });
    device.destroy();
    expect(tf.getBackend()).toBeDefined();
  });
});
