// A Gemma 3 model folder through the weblora CLI: `info` names the family and its sliding
// layers without reading the weights, and `generate` loads it (load.ts picks Gemma3Model) and
// writes a greedy continuation. The folder holds a tiny random Gemma 3 with a tokenizer that has
// Gemma's chat template and turn tokens.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, Interrupts, type CliIO } from '../../src/cli/main';
import { parameterCount, parseModelConfig } from '../../src/engine/model/config';
import { estimateTrainingMemory } from '../../src/engine/model/memory';
import { GEMMA3_270M, randomSafetensors, TINY_GEMMA3 } from '../helpers/random-model';
import { gemmaTurnTokenizerFiles } from '../helpers/gemma3-tokenizer';

const RAW = { ...TINY_GEMMA3, vocab_size: 520 };
let dir: string;

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, interrupts: new Interrupts() };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weblora-gemma3-'));
  const { json, config } = await gemmaTurnTokenizerFiles();
  await writeFile(join(dir, 'config.json'), JSON.stringify(RAW));
  await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 2, eos_token_id: [1, 513] }));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'model.safetensors'), randomSafetensors(parseModelConfig(RAW), 3, { std: 0.3 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('weblora on a Gemma 3 folder', () => {
  it('info names the family, its sliding-window layers and its size', async () => {
    const r = await cli(['info', '--model', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^family\s+gemma3$/m);
    expect(r.stdout).toMatch(/^attention\s+2 sliding-window layers \(window 3, rope theta 10000\), 1 full$/m);
    expect(r.stdout).toMatch(/^heads\s+4 attention, 2 key\/value, head dim 16$/m);
    expect(r.stdout).toMatch(/^vocab size\s+520$/m);
    expect(r.stdout).toMatch(/^chat template\s+yes$/m);
    expect(r.stdout).toContain(`parameters       ${parameterCount(parseModelConfig(RAW)).toLocaleString('en-US')}`);
  });

  it('generate loads the Gemma 3 decoder and continues greedily', async () => {
    const r = await cli(['generate', '--model', dir, '--prompt', 'Once upon a time', '--max-new-tokens', '4', '--greedy', '--backend', 'cpu']);
    expect(r.stderr).toMatch(/^backend: cpu, as requested$/m);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\[\d+ tokens?, finished by (length|eos)/);
  });
});

describe('Gemma 3 memory estimate', () => {
  it('counts the four norms per layer that Gemma keeps for the backward pass', () => {
    const c = parseModelConfig({ ...GEMMA3_270M });
    const lora = { r: 8, targetModules: ['q_proj', 'v_proj'] };
    const gemma = estimateTrainingMemory(c, lora, 2, 128, 'stock');
    const twoNorms = estimateTrainingMemory({ ...c, family: 'llama' }, lora, 2, 128, 'stock');
    expect(gemma.weightsBytes).toBe(268_098_176 * 4);
    // The post-attention-output and post-MLP norms: 2 × hidden floats per token and layer.
    expect(gemma.activationBytes - twoNorms.activationBytes).toBe(2 * 128 * 2 * 640 * 18 * 4);
  });
});
