// The real stories260K model, loaded from ../shared for tests.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { fileSource } from '../../src/engine/model/byte-source-node';
import { loadModel, type LoadedModel } from '../../src/engine/model/load';
import { wrapTokenizer } from '../../src/engine/model/tokenizer';
import { STORIES_DIR } from './paths';

export interface ReferenceGreedy {
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  greedy_text: string;
}

export async function loadStories(): Promise<LoadedModel> {
  env.allowRemoteModels = false;
  env.localModelPath = join(STORIES_DIR, '..') + '/';
  const tokenizer = wrapTokenizer(await AutoTokenizer.from_pretrained('stories260K'));
  const config = JSON.parse(await readFile(join(STORIES_DIR, 'config.json'), 'utf8'));
  const weights = await fileSource(join(STORIES_DIR, 'model.safetensors'));
  try {
    return await loadModel({ name: 'stories260K', config, tokenizer, weights });
  } finally {
    await weights.close();
  }
}

export async function referenceGreedy(): Promise<ReferenceGreedy> {
  return JSON.parse(await readFile(join(STORIES_DIR, 'reference_greedy.json'), 'utf8'));
}
