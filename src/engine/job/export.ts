// A job from a loaded model and a dataset file: the dataset is read and tokenized as a run would
// (the samples and the split both go into the job), then turned into files (job.ts).
import { loadDataset, type DataFile } from '../data/load';
import { prepareLoaded, type PrepareOptions } from '../data/pipeline';
import type { LoraConfig } from '../lora/lora';
import type { Session } from '../session';
import type { TrainOptions } from '../train/trainer';
import { jobFiles, type JobFile } from './job';

export interface JobRequest {
  data: Omit<PrepareOptions, 'onProgress'> & { seed: number };
  lora: LoraConfig;
  /** The run's options; the dataset gives the max length and the tokenizer the pad id. */
  training: Omit<TrainOptions, 'maxLength' | 'padId'>;
  evalBase: boolean;
}

export async function exportJob(session: Session, file: DataFile, req: JobRequest): Promise<JobFile[]> {
  const loaded = await loadDataset(file, req.data);
  const prepared = await prepareLoaded(loaded, session.tokenizer, req.data);
  if (prepared.train.length === 0) throw new Error(`${file.name}: no usable training examples, so there is no run to export`);
  const d = req.data;
  return jobFiles({
    model: { name: session.loaded.name, family: session.loaded.config.family, fingerprint: session.fingerprint },
    loaded,
    prepared,
    data: {
      trainOn: d.trainOn ?? 'responses',
      maxLength: d.maxLength,
      seed: d.seed,
      ...(d.appendEos === undefined ? {} : { appendEos: d.appendEos }),
      ...(d.valFraction === undefined ? {} : { valFraction: d.valFraction }),
    },
    lora: req.lora,
    training: { ...req.training, maxLength: d.maxLength, padId: session.padId },
    evalBase: req.evalBase,
  });
}
