// A LoRA adapter: for each adapted linear W [out, in], trainable A [r, in] and B [out, r];
// y = x·Wᵀ + s·(dropout(x)·Aᵀ)·Bᵀ with s = alpha/r (alpha/√r with rsLoRA). PEFT's init:
// A kaiming-uniform(a=√5), i.e. U(-1/√in, 1/√in); B zero, so a new adapter changes nothing.
// Which linears are adapted, and each one's r and alpha, follow PEFT's rules (peft-rules.ts).
import { tf } from '../tf';
import { newVariable } from '../variables';
import type { ModelConfig } from '../model/config';
import { LINEAR_MODULES } from '../model/linears';
import { adaptedLinears, loraScaling, patternRegExp, type PeftSelection } from './peft-rules';
import type { LoraBranch } from '../../../kernels';

/** Which modules, at which rank and alpha (peft-rules.ts), and the dropout of the LoRA input. */
export interface LoraConfig extends PeftSelection {
  dropout: number;
}

export const TARGET_PRESETS = {
  'attention-qv': ['q_proj', 'v_proj'],
  attention: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  'all-linear': LINEAR_MODULES,
} as const;

export interface LoraLayer {
  a: tf.Variable; // [r, in]
  b: tf.Variable; // [out, r]
  /** alpha / r of this module (its own r and alpha under rank_pattern / alpha_pattern). */
  scaling: number;
}

export interface LoraAdapter {
  config: LoraConfig;
  /** Keyed by the full module path, e.g. "model.layers.0.self_attn.q_proj". */
  layers: Map<string, LoraLayer>;
}

export { loraScaling };

export function validateLoraConfig(c: LoraConfig): void {
  if (!Number.isInteger(c.r) || c.r < 1) throw new Error(`LoRA rank must be a positive integer, got ${c.r}`);
  if (!(c.alpha > 0)) throw new Error(`LoRA alpha must be positive, got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`LoRA dropout must be in [0, 1), got ${c.dropout}`);
  const unknown = c.targetModules.filter((m) => !(LINEAR_MODULES as readonly string[]).includes(m));
  if (unknown.length || c.targetModules.length === 0) {
    throw new Error(
      `LoRA target modules ${JSON.stringify(unknown.length ? unknown : c.targetModules)} are not linear layers of this model; choose from ${LINEAR_MODULES.join(', ')}`,
    );
  }
  for (const [field, pattern, positive] of [
    ['rank_pattern', c.rankPattern, (v: number) => Number.isInteger(v) && v >= 1],
    ['alpha_pattern', c.alphaPattern, (v: number) => v > 0],
  ] as const) {
    for (const [key, value] of Object.entries(pattern ?? {})) {
      try {
        patternRegExp(key);
      } catch {
        throw new Error(`${field} key ${JSON.stringify(key)} is not a valid regular expression`);
      }
      if (!positive(value)) throw new Error(`${field} gives ${JSON.stringify(key)} the value ${JSON.stringify(value)}; it must be a positive ${field === 'rank_pattern' ? 'integer' : 'number'}`);
    }
  }
  const bad = (c.layersToTransform ?? []).find((l) => !(Number.isInteger(l) && l >= 0));
  if (bad !== undefined) throw new Error(`layers_to_transform holds ${JSON.stringify(bad)}; layer indices are integers from 0`);
}

/** The adapted linears of `model`, refusing a selection that adapts none of them. */
function adaptedOrThrow(model: ModelConfig, config: LoraConfig) {
  const adapted = adaptedLinears(model, config);
  if (adapted.length === 0) {
    throw new Error(
      `LoRA on ${config.targetModules.join(', ')} with layers_to_transform ${JSON.stringify(config.layersToTransform)} adapts no layer of this ${model.numLayers}-layer model`,
    );
  }
  return adapted;
}

/**
 * A rank above the smaller side of a linear buys nothing (B·A has rank ≤ min(in, out)) and
 * costs memory: one line per distinct case, for the CLI and the app to show.
 */
export function rankWarnings(model: ModelConfig, config: LoraConfig): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const [path, l] of adaptedLinears(model, config)) {
    const smallest = Math.min(l.in, l.out);
    const key = `${l.module}:${l.r}:${smallest}`;
    if (l.r > smallest && !seen.has(key)) {
      seen.add(key);
      out.push(`LoRA rank ${l.r} on ${l.module} (${path} and alike) exceeds its smaller dimension ${smallest} (${l.out}×${l.in}): the update cannot have rank above ${smallest}, so the extra rank only costs memory; rank ${smallest} or less does the same`);
    }
  }
  return out;
}

// TF.js variable names are global: two adapters alive at once (tuned vs imported, a test's
// copy) need distinct ones, so each adapter's variables carry its own serial number.
let adapterSerial = 0;
export function loraVariableName(serial: number, path: string, which: 'A' | 'B'): string {
  return `lora${serial}/${path}.lora_${which}`;
}
export function nextAdapterSerial(): number {
  return ++adapterSerial;
}

/** A fresh adapter with PEFT's initialisation; `random` makes it reproducible for a seed. */
export function createLoraAdapter(model: ModelConfig, config: LoraConfig, random: () => number): LoraAdapter {
  validateLoraConfig(config);
  const serial = nextAdapterSerial();
  const layers = new Map<string, LoraLayer>();
  for (const [path, { out, in: inp, r, scaling }] of adaptedOrThrow(model, config)) {
    const bound = 1 / Math.sqrt(inp);
    const a = new Float32Array(r * inp);
    for (let i = 0; i < a.length; i++) a[i] = (random() * 2 - 1) * bound;
    layers.set(path, {
      a: newVariable(() => tf.tensor2d(a, [r, inp]), true, loraVariableName(serial, path, 'A')),
      b: newVariable(() => tf.zeros([out, r]), true, loraVariableName(serial, path, 'B')),
      scaling,
    });
  }
  return { config, layers };
}

export function loraVariables(adapter: LoraAdapter): tf.Variable[] {
  return loraTensors(adapter).map(([, v]) => v);
}

/** [`<module path>.lora_A|B`, variable] in a stable order: the keys checkpoints use. */
export function loraTensors(adapter: LoraAdapter): Array<[string, tf.Variable]> {
  const out: Array<[string, tf.Variable]> = [];
  for (const [path, l] of adapter.layers) out.push([`${path}.lora_A`, l.a], [`${path}.lora_B`, l.b]);
  return out;
}

export function disposeAdapter(adapter: LoraAdapter): void {
  for (const l of adapter.layers.values()) {
    l.a.dispose();
    l.b.dispose();
  }
  adapter.layers.clear();
}

/**
 * The LoRA branch of the linear at `path` as the op layer runs it (kernels/linear.ts), or
 * undefined where the adapter does not cover it. Dropout only while training; each module gets
 * its own mask, seeded from the step's seed and its path so that a resumed step repeats exactly.
 */
export function loraBranch(adapter: LoraAdapter | null | undefined, path: string, step: { training?: boolean; dropoutSeed?: number }): LoraBranch | undefined {
  const layer = adapter?.layers.get(path);
  if (!adapter || !layer) return undefined;
  const rate = step.training ? adapter.config.dropout : 0;
  const seed = step.dropoutSeed === undefined ? undefined : step.dropoutSeed * 7919 + hashPath(path);
  return { a: layer.a, b: layer.b, scaling: layer.scaling, ...(rate > 0 ? { dropout: { rate, seed } } : {}) };
}

function hashPath(path: string): number {
  let h = 0;
  for (let i = 0; i < path.length; i++) h = (h * 31 + path.charCodeAt(i)) % 1_000_003;
  return h;
}
