// What identifies a model: its content, not where it was loaded from. A folder, the same files
// dropped one by one, and the same repo from the hub are one model; two fine-tunes with the same
// architecture are not. Hashing the whole of a 1 GB checkpoint would cost seconds on every load,
// so the hash covers the config, the weights' size and safetensors header (names, shapes,
// offsets), and sixteen 64 KiB samples spread over the data — where any two trainings differ.
import type { ByteSource } from './byte-source';

const SAMPLES = 16;
const SAMPLE_BYTES = 64 * 1024;
/** Keys that say where a config was written, not what the model is. */
const VOLATILE = new Set(['_name_or_path', 'transformers_version', 'torch_dtype', 'use_cache']);

export async function modelFingerprint(config: Record<string, unknown>, weights: ByteSource): Promise<string> {
  const parts: Uint8Array[] = [new TextEncoder().encode(canonical(config)), new TextEncoder().encode(`|${weights.size}|`)];
  const headerLength = weights.size >= 8 ? Number(new DataView((await weights.read(0, 8)).buffer).getBigUint64(0, true)) : 0;
  const dataStart = 8 + headerLength;
  if (headerLength > 0 && dataStart <= weights.size) parts.push(await weights.read(8, headerLength));
  const dataBytes = weights.size - dataStart;
  if (dataBytes > 0) {
    const length = Math.min(SAMPLE_BYTES, dataBytes);
    for (let i = 0; i < SAMPLES; i++) {
      const offset = dataStart + Math.floor(((dataBytes - length) * i) / Math.max(1, SAMPLES - 1));
      parts.push(await weights.read(offset, length));
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** JSON with sorted keys and without the volatile ones, so key order and tooling versions do not matter. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k]) => !VOLATILE.has(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A name for a model loaded from loose files (no folder to name it after): the config's
 * `_name_or_path` when it has one, else its architecture and size.
 */
export function nameFromConfig(config: Record<string, unknown>): string {
  const path = typeof config._name_or_path === 'string' ? config._name_or_path.trim() : '';
  if (path) return path.replace(/[\\/]+$/, '').split(/[\\/]/).slice(-2).join('/');
  const type = typeof config.model_type === 'string' ? config.model_type : 'model';
  const layers = config.num_hidden_layers;
  const hidden = config.hidden_size;
  return typeof layers === 'number' && typeof hidden === 'number' ? `${type} (${layers} layers × ${hidden})` : type;
}
