// The linear modules of a decoder layer, once: their names as Hugging Face and PEFT spell them,
// where they sit, their [out, in] shapes and whether they carry a bias. Weight loading, the
// LoRA adapter, PEFT import, memory and FLOP estimates and the kernel tuner all read this table.
import type { ModelConfig } from './config';

export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

export interface Linear {
  module: LinearModule;
  /** The sublayer it belongs to: `model.layers.<i>.<parent>.<module>`. */
  parent: 'self_attn' | 'mlp';
  out: number;
  in: number;
  bias: boolean;
}

/** The linears of one decoder layer, in LINEAR_MODULES order. */
export function layerLinears(c: ModelConfig): Linear[] {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const h = c.hiddenSize;
  const f = c.intermediateSize;
  return [
    { module: 'q_proj', parent: 'self_attn', out: q, in: h, bias: c.attentionBias },
    { module: 'k_proj', parent: 'self_attn', out: kv, in: h, bias: c.attentionBias },
    { module: 'v_proj', parent: 'self_attn', out: kv, in: h, bias: c.attentionBias },
    { module: 'o_proj', parent: 'self_attn', out: h, in: q, bias: c.outputBias },
    { module: 'gate_proj', parent: 'mlp', out: f, in: h, bias: c.mlpBias },
    { module: 'up_proj', parent: 'mlp', out: f, in: h, bias: c.mlpBias },
    { module: 'down_proj', parent: 'mlp', out: h, in: f, bias: c.mlpBias },
  ];
}

export const linearPath = (layer: number, l: Pick<Linear, 'parent' | 'module'>) => `model.layers.${layer}.${l.parent}.${l.module}`;

/** Every linear of the model by its module path, e.g. "model.layers.0.self_attn.q_proj". */
export function linearModules(c: ModelConfig): Map<string, Linear> {
  const out = new Map<string, Linear>();
  for (let i = 0; i < c.numLayers; i++) for (const l of layerLinears(c)) out.set(linearPath(i, l), l);
  return out;
}

/** Whether PEFT's `target_modules` (module names) select the module at `path`. */
export function isTargeted(path: string, targetModules: readonly string[]): boolean {
  return targetModules.includes(path.slice(path.lastIndexOf('.') + 1));
}

/** The linears an adapter with these `target_modules` covers, by module path. */
export function targetedLinears(c: ModelConfig, targetModules: readonly string[]): Array<[string, Linear]> {
  return [...linearModules(c)].filter(([path]) => isTargeted(path, targetModules));
}

/** The distinct [in, out] of a layer's linears (k = v, gate = up): the frozen matmuls to tune. */
export function linearShapes(c: ModelConfig): { in: number; out: number }[] {
  const seen = new Set<string>();
  return layerLinears(c)
    .map((l) => ({ in: l.in, out: l.out }))
    .filter((s) => !seen.has(`${s.in}x${s.out}`) && seen.add(`${s.in}x${s.out}`));
}
