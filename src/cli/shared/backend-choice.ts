// The --backend values, apart from backend.ts so that parsing flags does not load TF.js.
import type { BackendName } from '../../engine/backend';

export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];
