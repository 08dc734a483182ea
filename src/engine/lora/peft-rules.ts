// Which linears an adapter covers, and with which rank and alpha, as Hugging Face PEFT decides it
// (peft/tuners/tuners_utils.py check_target_module_exists, peft/utils/other.py get_pattern_key,
// LoraModel._create_and_replace):
//   - target_modules (a list): a module whose full name ends with ".<target>";
//   - layers_to_transform: then only modules whose layer index (the number after
//     ".<layers_pattern>." — any list name when layers_pattern is empty) is listed;
//   - rank_pattern / alpha_pattern: the first key (in the file's order) for which
//     re.match(rf"(.*\.)?({key})$", name) holds gives that module's r / lora_alpha.
import type { ModelConfig } from '../model/config';
import { isTargeted, linearModules, type Linear } from '../model/linears';

/** What decides the adapted modules and each one's r and alpha: LoraConfig but its dropout. */
export interface PeftSelection {
  r: number;
  alpha: number;
  useRslora: boolean;
  /** Module names (last path component), e.g. ["q_proj", "v_proj"]. */
  targetModules: string[];
  /** PEFT's rank_pattern: module-name pattern -> rank of the modules it matches. */
  rankPattern?: Record<string, number>;
  /** PEFT's alpha_pattern: module-name pattern -> lora_alpha of the modules it matches. */
  alphaPattern?: Record<string, number>;
  /** PEFT's layers_to_transform: only these decoder layers are adapted. */
  layersToTransform?: number[];
  /** PEFT's layers_pattern: the name of the list holding the layers ("layers"); empty: any. */
  layersPattern?: string[];
}

export interface AdaptedLinear extends Linear {
  r: number;
  alpha: number;
  scaling: number;
}

export function loraScaling(c: Pick<PeftSelection, 'r' | 'alpha' | 'useRslora'>): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/** Python's re.match(rf"(.*\.)?({key})$", name): the key matches the whole name or a dotted suffix of it. */
export function patternRegExp(key: string): RegExp {
  return new RegExp(`^(?:.*\\.)?(?:${key})$`);
}

/** PEFT's get_pattern_key: the first key whose pattern matches `name`, or undefined. */
export function patternKey(keys: readonly string[], name: string): string | undefined {
  return keys.find((k) => patternRegExp(k).test(name));
}

/** The layer index PEFT reads from a module name, or null when it finds none. */
export function layerIndexOf(name: string, layersPattern: readonly string[] | undefined): number | null {
  const patterns = layersPattern && layersPattern.length ? layersPattern.map((p) => new RegExp(`^.*\\.${p}\\.(\\d+)\\.`)) : [/^.*\.[^.]*\.(\d+)\./];
  for (const re of patterns) {
    const m = re.exec(name);
    if (m) return Number(m[1]);
  }
  return null;
}

/** Whether the module at `path` is adapted: targeted, and in a transformed layer when layers are chosen. */
export function isAdapted(path: string, c: PeftSelection): boolean {
  if (!isTargeted(path, c.targetModules)) return false;
  if (!c.layersToTransform?.length) return true;
  const layer = layerIndexOf(path, c.layersPattern);
  return layer !== null && c.layersToTransform.includes(layer);
}

/** Every adapted linear of the model with its own rank, alpha and scaling, by module path. */
export function adaptedLinears(model: ModelConfig, c: PeftSelection): Array<[string, AdaptedLinear]> {
  const rankKeys = Object.keys(c.rankPattern ?? {});
  const alphaKeys = Object.keys(c.alphaPattern ?? {});
  const out: Array<[string, AdaptedLinear]> = [];
  for (const [path, linear] of linearModules(model)) {
    if (!isAdapted(path, c)) continue;
    const rk = patternKey(rankKeys, path);
    const ak = patternKey(alphaKeys, path);
    const r = rk === undefined ? c.r : c.rankPattern![rk]!;
    const alpha = ak === undefined ? c.alpha : c.alphaPattern![ak]!;
    out.push([path, { ...linear, r, alpha, scaling: loraScaling({ r, alpha, useRslora: c.useRslora }) }]);
  }
  return out;
}

/** Whether the adapter departs from one r and alpha on every targeted module of every layer. */
export function usesPatterns(c: PeftSelection): boolean {
  return Object.keys(c.rankPattern ?? {}).length > 0 || Object.keys(c.alphaPattern ?? {}).length > 0 || (c.layersToTransform?.length ?? 0) > 0;
}
