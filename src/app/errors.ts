// Failures as the UI shows them: a title for the situation, then what happened and what to do.
import { failureOf } from './engine';
import type { UiError } from './store';

export function uiError(title: string, e: unknown): UiError {
  return { ...failureOf(e), title };
}

export const KIND_TITLES: Record<string, string> = {
  'model-source': 'The model could not be loaded',
  'unsupported-model': 'This model is not supported',
  dataset: 'The dataset could not be read',
  'dataset-format': 'The dataset format was not recognised',
  'bad-adapter': 'This adapter does not fit the model',
  oom: 'Out of memory',
  'device-lost': 'The GPU was lost',
  cancelled: 'Cancelled',
  'not-ready': 'Not ready yet',
  busy: 'The engine is busy',
  internal: 'Something went wrong',
};
