// --targets: module names (q_proj,v_proj) or one preset name (attention-qv, attention, all-linear).
import { TARGET_PRESETS } from '../../engine/lora/lora';
import { LINEAR_MODULES } from '../../engine/model/linears';
import { UsageError } from './errors';

export const TARGETS_HELP = `module names (${LINEAR_MODULES.join(',')}) or a preset: ${Object.keys(TARGET_PRESETS).join(', ')}`;

export function resolveTargets(list: readonly string[], command: string): string[] {
  if (list.length === 1 && Object.hasOwn(TARGET_PRESETS, list[0]!)) return [...TARGET_PRESETS[list[0] as keyof typeof TARGET_PRESETS]];
  const unknown = list.filter((m) => !(LINEAR_MODULES as readonly string[]).includes(m));
  if (unknown.length) throw new UsageError(`--targets: unknown module ${unknown.map((m) => `'${m}'`).join(', ')}; use ${TARGETS_HELP}`, command);
  return [...new Set(list)];
}
