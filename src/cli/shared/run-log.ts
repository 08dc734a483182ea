// The train_log.json beside an adapter (weblora train's, or an exported job's train.py on a GPU
// server): one line on what that run logged, so `eval` shows it beside its own numbers.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface LogRecord {
  type?: unknown;
  step?: unknown;
  loss?: unknown;
  val_loss?: unknown;
}

/** null when the folder has no train_log.json; a line saying why when it cannot be read. */
export async function describeRunLog(dir: string): Promise<string | null> {
  const path = join(dir, 'train_log.json');
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return null;
  let log: { format?: unknown; status?: unknown; model?: unknown; data?: unknown; backend?: unknown; records?: unknown };
  try {
    log = JSON.parse(text);
  } catch (e) {
    return `${path}: not JSON (${(e as Error).message}); the adapter is used anyway`;
  }
  if (log?.format !== 'weblora-train-log' || !Array.isArray(log.records)) return `${path}: not a WebLoRA train log; the adapter is used anyway`;
  const records = log.records as LogRecord[];
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const steps = records.filter((r) => r.type === 'step' && num(r.loss) !== null);
  const evals = records.filter((r) => r.type === 'eval' && num(r.val_loss) !== null);
  const last = steps.at(-1);
  const val = evals.at(-1);
  return (
    `adapter's run (${path}): ${String(log.model)} on ${String(log.data)}, ${String(log.backend)}, ${String(log.status)}; ` +
    `${steps.length} steps${last ? `, last loss ${num(last.loss)!.toFixed(4)}` : ''}` +
    `${val ? `, val loss ${num(val.val_loss)!.toFixed(4)} at step ${String(val.step)} (on its own split)` : ''}`
  );
}
