// story-instruct prepared for stories260K: the dataset the training tests use.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareDataset, type PreparedDataset } from '../../src/engine/data';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';
import { DATA_DIR } from './paths';

export const STORY_INSTRUCT = join(DATA_DIR, 'story-instruct/train.jsonl');

export async function storyInstruct(tokenizer: TextTokenizer, valFraction = 0.1): Promise<PreparedDataset> {
  const text = await readFile(STORY_INSTRUCT, 'utf8');
  return prepareDataset({ name: 'train.jsonl', source: text }, tokenizer, { maxLength: 128, valFraction, seed: 0 });
}
