// Failures as the UI shows them: a title for the situation, then what happened and what to do.
import { failureOf } from './engine';
import type { UiError } from './store';

export function uiError(title: string, e: unknown): UiError {
  return { ...failureOf(e), title };
}
