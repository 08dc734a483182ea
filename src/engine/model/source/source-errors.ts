// Errors that tell the user which file is wrong and what a model needs, so the UI can show
// them as they are and code can still tell the cases apart.
import { GENERATION_CONFIG, requiredFilesText } from './source-types';

/** Where a model was being loaded from: the hub, or files on this machine (a folder, dropped files). */
export type ModelOrigin = 'hub' | 'local';

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
  /** So that what to do can be said for this source only (default 'local'). */
  readonly origin: ModelOrigin;
  constructor(
    message: string,
    /** Required files that are absent (empty for other problems). */
    readonly missing: readonly string[] = [],
    options?: { cause?: unknown; origin?: ModelOrigin },
  ) {
    super(message, options);
    this.origin = options?.origin ?? 'local';
  }
}

export function quoteList(files: readonly string[]): string {
  return files.map((f) => `"${f}"`).join(', ');
}

export function missingFilesError(where: string, missing: readonly string[]): ModelSourceError {
  return new ModelSourceError(
    `Missing ${quoteList(missing)} in ${where}: a model needs ${requiredFilesText()} (${GENERATION_CONFIG} is optional)`,
    missing,
  );
}

export function parseJsonFile(where: string, file: string, text: string, origin: ModelOrigin = 'local'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelSourceError(`${where}: ${file} is not valid JSON (${(err as Error).message})`, [], { cause: err, origin });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelSourceError(`${where}: ${file} must hold a JSON object`, [], { origin });
  }
  return value as Record<string, unknown>;
}
