import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** ../shared beside the checkout: real model and datasets, never copied into the repo. */
export const SHARED_DIR = resolve(REPO_ROOT, '../shared');
export const STORIES_DIR = resolve(SHARED_DIR, 'models/stories260K');
export const DATA_DIR = resolve(SHARED_DIR, 'data');
