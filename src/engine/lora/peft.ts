// The adapter's on-disk form, as Hugging Face PEFT writes it: adapter_config.json plus
// adapter_model.safetensors with keys base_model.model.<module>.lora_{A,B}.weight, A [r, in]
// and B [out, r], metadata {"format": "pt"}. Everything users keep goes through this.
import { tf } from '../tf';
import { newVariable } from '../variables';
import type { ModelConfig } from '../model/config';
import { bytesSource } from '../model/byte-source';
import { openSafetensors, writeSafetensors } from '../model/safetensors';
import { targetedLinears } from '../model/linears';
import { firstNonFinite } from '../train/non-finite';
import { loraScaling, loraVariableName, nextAdapterSerial, validateLoraConfig, type LoraAdapter, type LoraConfig, type LoraLayer } from './lora';

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
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
}

export async function exportPeft(adapter: LoraAdapter, baseModel: string | null): Promise<PeftFiles> {
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  for (const [path, layer] of adapter.layers) {
    tensors.push({ name: `${PREFIX}${path}.lora_A.weight`, shape: layer.a.shape, data: (await layer.a.data()) as Float32Array });
    tensors.push({ name: `${PREFIX}${path}.lora_B.weight`, shape: layer.b.shape, data: (await layer.b.data()) as Float32Array });
  }
  refuseNonFinite(tensors, 'refusing to write the adapter');
  return {
    config: JSON.stringify(peftConfigJson(adapter.config, baseModel), null, 2) + '\n',
    weights: writeSafetensors(tensors, { format: 'pt' }),
  };
}

export function parsePeftConfig(text: string, fileName = ADAPTER_CONFIG): LoraConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AdapterError(`${fileName}: not valid JSON (${(e as Error).message})`);
  }
  const need = (k: string) => {
    if (raw[k] === undefined) throw new AdapterError(`${fileName}: field "${k}" is missing`);
    return raw[k];
  };
  if (need('peft_type') !== 'LORA') throw new AdapterError(`${fileName}: peft_type is ${JSON.stringify(raw.peft_type)}, only "LORA" is supported`);
  if (raw.use_dora === true) throw new AdapterError(`${fileName}: DoRA adapters (use_dora) are not supported`);
  if (raw.bias !== undefined && raw.bias !== 'none') throw new AdapterError(`${fileName}: bias "${raw.bias}" is not supported (only "none")`);
  if (raw.fan_in_fan_out === true) throw new AdapterError(`${fileName}: fan_in_fan_out adapters are not supported`);
  const targets = need('target_modules');
  const targetModules = typeof targets === 'string' ? [targets] : (targets as string[]);
  const config: LoraConfig = {
    r: Number(need('r')),
    alpha: Number(raw.lora_alpha ?? raw.r),
    dropout: Number(raw.lora_dropout ?? 0),
    useRslora: raw.use_rslora === true,
    targetModules: [...targetModules],
  };
  try {
    validateLoraConfig(config);
  } catch (e) {
    throw new AdapterError(`${fileName}: ${(e as Error).message}`);
  }
  return config;
}

/** Reads a PEFT adapter for `model`; every tensor must be there with this model's shapes. */
export async function importPeft(files: PeftFiles, model: ModelConfig): Promise<LoraAdapter> {
  const config = parsePeftConfig(files.config);
  const st = await openSafetensors(bytesSource(ADAPTER_WEIGHTS, files.weights));
  const serial = nextAdapterSerial();
  const layers = new Map<string, LoraLayer>();
  const expected = new Set<string>();
  try {
    for (const [path, { out, in: inp }] of targetedLinears(model, config.targetModules)) {
      const read = async (which: 'A' | 'B', shape: [number, number]) => {
        const key = `${PREFIX}${path}.lora_${which}.weight`;
        expected.add(key);
        const entry = st.tensors.get(key);
        if (!entry) throw new AdapterError(`${ADAPTER_WEIGHTS}: tensor "${key}" is missing (adapter_config.json targets ${config.targetModules.join(', ')})`);
        if (entry.shape.join(',') !== shape.join(',')) {
          throw new AdapterError(
            `${ADAPTER_WEIGHTS}: tensor "${key}" has shape [${entry.shape}] but this model with r=${config.r} needs [${shape}] — is the adapter for another model or rank?`,
          );
        }
        const data = await st.readFloat32(key);
        refuseNonFinite([{ name: key, data }], `${ADAPTER_WEIGHTS} is unusable`);
        return newVariable(() => tf.tensor2d(data, shape), true, loraVariableName(serial, path, which));
      };
      const a = await read('A', [config.r, inp]);
      const b = await read('B', [out, config.r]).catch((e) => {
        a.dispose();
        throw e;
      });
      layers.set(path, { a, b });
    }
    const extra = [...st.tensors.keys()].filter((k) => !expected.has(k));
    if (extra.length) throw new AdapterError(`${ADAPTER_WEIGHTS}: tensor "${extra[0]}" does not belong to a targeted layer of this model${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''}`);
  } catch (e) {
    for (const l of layers.values()) tf.dispose([l.a, l.b]);
    throw e;
  }
  return { config, scaling: loraScaling(config), layers };
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
