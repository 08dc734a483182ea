// Zip files with fflate: the adapter folder PEFT loads, and reading adapters back from a zip.
import { strToU8, unzipSync, zipSync, type Zippable } from 'fflate';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export function zipFiles(files: { name: string; bytes: Uint8Array | string }[], level: 0 | 6 = 6): Uint8Array {
  const z: Zippable = {};
  for (const f of files) z[f.name] = [typeof f.bytes === 'string' ? strToU8(f.bytes) : f.bytes, { level }];
  return zipSync(z);
}

export function zipAdapter(files: { config: string; weights: Uint8Array }, extra: { name: string; bytes: string }[] = []): Uint8Array {
  return zipFiles([{ name: ADAPTER_CONFIG, bytes: files.config }, { name: ADAPTER_WEIGHTS, bytes: files.weights }, ...extra]);
}

/** The adapter files from a zip (any folder inside it), or null when they are not both there. */
export function adapterFromZip(bytes: Uint8Array): { config: string; weights: Uint8Array } | null {
  const entries = unzipSync(bytes, { filter: (f) => /(^|\/)(adapter_config\.json|adapter_model\.safetensors)$/.test(f.name) });
  let config: string | null = null;
  let weights: Uint8Array | null = null;
  for (const [name, data] of Object.entries(entries)) {
    if (name.endsWith(ADAPTER_CONFIG)) config = new TextDecoder().decode(data);
    else if (name.endsWith(ADAPTER_WEIGHTS)) weights = data;
  }
  return config !== null && weights ? { config, weights } : null;
}

/** A train_log.json anywhere in the zip, as text, or null. */
export function trainLogFromZip(bytes: Uint8Array): string | null {
  const entries = unzipSync(bytes, { filter: (f) => /(^|\/)train_log\.json$/.test(f.name) });
  const first = Object.values(entries)[0];
  return first ? new TextDecoder().decode(first) : null;
}
