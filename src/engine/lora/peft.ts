// The adapter's on-disk form, as Hugging Face PEFT writes it: adapter_config.json plus
// adapter_model.safetensors with keys base_model.model.<module>.lora_{A,B}.weight, A [r, in]
// and B [out, r], metadata {"format": "pt"}. Everything users keep goes through this.
import { tf } from '../tf';
import { newVariable } from '../variables';
import type { ModelConfig } from '../model/config';
import { bytesSource } from '../model/byte-source';
import { openSafetensors, writeSafetensors } from '../model/safetensors';
import { LINEAR_MODULES } from '../model/linears';
import { adaptedLinears } from './peft-rules';
import { firstNonFinite } from '../train/non-finite';
import { loraVariableName, nextAdapterSerial, validateLoraConfig, type LoraAdapter, type LoraConfig, type LoraLayer } from './lora';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

export class AdapterError extends Error {
  override name = 'AdapterError';
}

export interface PeftFiles {
  config: string;
  weights: Uint8Array;
}

export function peftConfigJson(config: LoraConfig, baseModel: string | null): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: config.r,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    target_modules: [...config.targetModules].sort(),
    bias: 'none',
    use_rslora: config.useRslora,
    use_dora: false,
    fan_in_fan_out: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: config.layersToTransform?.length ? [...config.layersToTransform] : null,
    layers_pattern: config.layersPattern?.length ? (config.layersPattern.length === 1 ? config.layersPattern[0] : [...config.layersPattern]) : null,
    rank_pattern: { ...config.rankPattern },
    alpha_pattern: { ...config.alphaPattern },
    revision: null,
  };
}

/** `metadata`: extra safetensors metadata (PEFT reads only "format"), e.g. the base weights' SHA-256. */
export async function exportPeft(adapter: LoraAdapter, baseModel: string | null, metadata: Record<string, string> = {}): Promise<PeftFiles> {
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  for (const [path, layer] of adapter.layers) {
    tensors.push({ name: `${PREFIX}${path}.lora_A.weight`, shape: layer.a.shape, data: (await layer.a.data()) as Float32Array });
    tensors.push({ name: `${PREFIX}${path}.lora_B.weight`, shape: layer.b.shape, data: (await layer.b.data()) as Float32Array });
  }
  refuseNonFinite(tensors, 'refusing to write the adapter');
  return {
    config: JSON.stringify(peftConfigJson(adapter.config, baseModel), null, 2) + '\n',
    weights: writeSafetensors(tensors, { ...metadata, format: 'pt' }),
  };
}

export function parsePeftConfig(text: string, fileName = ADAPTER_CONFIG): LoraConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AdapterError(`${fileName}: not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new AdapterError(`${fileName}: not a JSON object`);
  const need = (k: string) => {
    if (raw[k] === undefined) throw new AdapterError(`${fileName}: field "${k}" is missing`);
    return raw[k];
  };
  if (need('peft_type') !== 'LORA') throw new AdapterError(`${fileName}: peft_type is ${JSON.stringify(raw.peft_type)}, only "LORA" is supported`);
  refuseUnsupported(raw, fileName);
  const targets = need('target_modules');
  // A regex target_modules is matched against full names, layer included: PEFT then ignores
  // layers_to_transform and layers_pattern.
  const { targetModules, layersToTransform: fromRegex } = parseTargets(targets, fileName);
  const regex = typeof targets === 'string';
  const config: LoraConfig = {
    r: Number(need('r')),
    // PEFT's LoraConfig default: lora_alpha = 8, whatever r is.
    alpha: Number(raw.lora_alpha ?? PEFT_DEFAULT_ALPHA),
    dropout: Number(raw.lora_dropout ?? 0),
    useRslora: raw.use_rslora === true,
    targetModules,
  };
  const rankPattern = numberMap(raw.rank_pattern, 'rank_pattern', fileName);
  const alphaPattern = numberMap(raw.alpha_pattern, 'alpha_pattern', fileName);
  const layersToTransform = regex ? fromRegex : layerList(raw.layers_to_transform, fileName);
  const layersPattern = stringList(raw.layers_pattern, 'layers_pattern', fileName);
  if (rankPattern) config.rankPattern = rankPattern;
  if (alphaPattern) config.alphaPattern = alphaPattern;
  if (layersToTransform) config.layersToTransform = layersToTransform;
  if (layersPattern && !regex) config.layersPattern = layersPattern;
  try {
    validateLoraConfig(config);
  } catch (e) {
    throw new AdapterError(`${fileName}: ${(e as Error).message}`);
  }
  return config;
}

const PEFT_DEFAULT_ALPHA = 8;

/**
 * Fields that change what the adapter computes and that this engine does not implement: refused
 * by name rather than ignored, since ignoring them gives a different model without a word.
 */
function refuseUnsupported(raw: Record<string, unknown>, fileName: string): void {
  const set = (v: unknown) => v !== undefined && v !== null && v !== false && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
  const refuse = (field: string, why: string) => {
    throw new AdapterError(`${fileName}: ${field} ${JSON.stringify(raw[field])} is not supported: ${why}`);
  };
  if (raw.use_dora === true) refuse('use_dora', 'DoRA adapters rescale each weight by a learned magnitude, which WebLoRA does not apply');
  if (raw.bias !== undefined && raw.bias !== 'none') refuse('bias', 'only "none" is (trained biases are not part of a WebLoRA adapter)');
  if (raw.fan_in_fan_out === true) refuse('fan_in_fan_out', 'only Conv1D-style (GPT-2) models store transposed weights, and WebLoRA runs Llama-family models');
  if (set(raw.modules_to_save)) refuse('modules_to_save', 'those modules are fully trained and saved with the adapter, and WebLoRA only applies LoRA to linear layers');
  if (raw.lora_bias === true) refuse('lora_bias', 'a bias on lora_B is not applied by WebLoRA');
  if (raw.use_qalora === true) refuse('use_qalora', 'QA-LoRA pools the input before lora_A, which WebLoRA does not');
  if (set(raw.layer_replication)) refuse('layer_replication', 'it changes the number of decoder layers');
  if (set(raw.trainable_token_indices)) refuse('trainable_token_indices', 'it trains embedding rows, which WebLoRA does not load');
  if (set(raw.target_parameters)) refuse('target_parameters', 'LoRA on raw parameters (not linear modules) is not implemented');
  if (set(raw.exclude_modules)) refuse('exclude_modules', 'list the modules to adapt in target_modules instead');
  if (set(raw.alora_invocation_tokens)) refuse('alora_invocation_tokens', 'activated LoRA switches on mid-sequence, which WebLoRA does not');
  const init = raw.init_lora_weights;
  if (typeof init === 'string' && /^(pissa|olora|corda|loftq)/i.test(init)) {
    refuse('init_lora_weights', 'this initialisation changes the base model\'s weights too; convert the adapter to plain LoRA with PEFT (save_pretrained with path_initial_model_for_weight_conversion) first');
  }
}

/**
 * target_modules as a list of module names, or PEFT's other form: one string, matched in full
 * against every module name (a regular expression; "all-linear" for every linear). A regex is
 * taken when what it selects is some module names in some layers.
 */
function parseTargets(targets: unknown, fileName: string): { targetModules: string[]; layersToTransform?: number[] } {
  if (Array.isArray(targets) && targets.every((t) => typeof t === 'string')) return { targetModules: [...targets] };
  if (typeof targets !== 'string') throw new AdapterError(`${fileName}: target_modules must be a list of module names or one regular expression`);
  if (targets === 'all-linear') return { targetModules: [...LINEAR_MODULES] };
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${targets})$`);
  } catch {
    throw new AdapterError(`${fileName}: target_modules ${JSON.stringify(targets)} is not a valid regular expression`);
  }
  // Layer indices and module names are enough to decide it: try a model deeper than any real one.
  const matched = [...Array(512).keys()].flatMap((l) => LINEAR_MODULES.filter((m) => re.test(`model.layers.${l}.${m === 'gate_proj' || m === 'up_proj' || m === 'down_proj' ? 'mlp' : 'self_attn'}.${m}`)).map((m) => [l, m] as const));
  const modules = [...new Set(matched.map(([, m]) => m))];
  const layers = [...new Set(matched.map(([l]) => l))];
  if (matched.length === 0 || matched.length !== modules.length * layers.length) {
    throw new AdapterError(
      `${fileName}: target_modules ${JSON.stringify(targets)} ${matched.length === 0 ? 'matches no linear layer' : 'selects different modules in different layers'}; WebLoRA takes a list of module names (with layers_to_transform for some layers only)`,
    );
  }
  return { targetModules: modules, ...(layers.length < 512 ? { layersToTransform: layers } : {}) };
}

function numberMap(v: unknown, field: string, fileName: string): Record<string, number> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'number')) {
    throw new AdapterError(`${fileName}: ${field} must map module-name patterns to numbers, got ${JSON.stringify(v)}`);
  }
  return Object.keys(v).length ? { ...(v as Record<string, number>) } : undefined;
}

function layerList(v: unknown, fileName: string): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'number')) throw new AdapterError(`${fileName}: layers_to_transform must be a layer index or a list of them, got ${JSON.stringify(v)}`);
  return list.length ? [...(list as number[])] : undefined;
}

function stringList(v: unknown, field: string, fileName: string): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw new AdapterError(`${fileName}: ${field} must be a name or a list of names, got ${JSON.stringify(v)}`);
  return list.length ? [...(list as string[])] : undefined;
}

/** Reads a PEFT adapter for `model`; every tensor must be there with this model's shapes. */
export async function importPeft(files: PeftFiles, model: ModelConfig): Promise<LoraAdapter> {
  const config = parsePeftConfig(files.config);
  const st = await openSafetensors(bytesSource(ADAPTER_WEIGHTS, files.weights));
  const serial = nextAdapterSerial();
  const layers = new Map<string, LoraLayer>();
  const expected = new Set<string>();
  try {
    const adapted = adaptedLinears(model, config);
    if (adapted.length === 0) throw new AdapterError(`${ADAPTER_CONFIG}: layers_to_transform ${JSON.stringify(config.layersToTransform)} selects no layer of this ${model.numLayers}-layer model`);
    for (const [path, { out, in: inp, r, scaling }] of adapted) {
      const read = async (which: 'A' | 'B', shape: [number, number]) => {
        const key = `${PREFIX}${path}.lora_${which}.weight`;
        expected.add(key);
        const entry = st.tensors.get(key);
        if (!entry) throw new AdapterError(`${ADAPTER_WEIGHTS}: tensor "${key}" is missing (adapter_config.json targets ${config.targetModules.join(', ')})`);
        if (entry.shape.join(',') !== shape.join(',')) {
          throw new AdapterError(
            `${ADAPTER_WEIGHTS}: tensor "${key}" has shape [${entry.shape}] but this model with r=${r}${r === config.r ? '' : ' (rank_pattern)'} needs [${shape}] — is the adapter for another model or rank?`,
          );
        }
        const data = await st.readFloat32(key);
        refuseNonFinite([{ name: key, data }], `${ADAPTER_WEIGHTS} is unusable`);
        return newVariable(() => tf.tensor2d(data, shape), true, loraVariableName(serial, path, which));
      };
      const a = await read('A', [r, inp]);
      const b = await read('B', [out, r]).catch((e) => {
        a.dispose();
        throw e;
      });
      layers.set(path, { a, b, scaling });
    }
    const extra = [...st.tensors.keys()].filter((k) => !expected.has(k));
    if (extra.length) throw new AdapterError(`${ADAPTER_WEIGHTS}: tensor "${extra[0]}" does not belong to a targeted layer of this model${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''}`);
  } catch (e) {
    for (const l of layers.values()) tf.dispose([l.a, l.b]);
    throw e;
  }
  return { config, layers };
}

/** The last guard against a broken (diverged) adapter reaching a file or the model: NaN or ±inf anywhere. */
export function refuseNonFinite(tensors: Iterable<{ name: string; data: ArrayLike<number> }>, what: string): void {
  const bad = firstNonFinite([...tensors].map((t) => [t.name, t.data] as [string, ArrayLike<number>]));
  if (bad) {
    throw new AdapterError(
      `${what}: tensor "${bad.name}" holds ${bad.value} (at index ${bad.index}); an adapter with NaN or inf values is broken, typically by a run that diverged`,
    );
  }
}
