// `weblora export-job`: the engine's job files (src/engine/job), written to --out.
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { exportJob } from '../../engine/job/export';
import { DEFAULT_TRAIN_OPTIONS } from '../../engine/train/trainer';
import { writeFilesAtomic } from '../shared/atomic-write';
import { checkDataFile, prepareOptionsOf, withFlagAdvice } from '../shared/data';
import { EXIT_OK } from '../shared/errors';
import type { CliIO } from '../shared/io';
import { openModel } from '../shared/model';
import { newLoraConfig } from '../train/adapter';
import type { TrainArgs } from '../train/args';

export async function runExportJob(a: TrainArgs, io: CliIO): Promise<number> {
  const d = a.data;
  await checkDataFile(d.path);
  const lora = newLoraConfig(a.lora, 'export-job');
  const session = await openModel(a.model);
  try {
    // The file's name, not its path here: the job runs elsewhere, and the app names it the same.
    const data = { ...prepareOptionsOf(d, { seed: a.loop.seed, ...(a.valFraction === undefined ? {} : { valFraction: a.valFraction }) }), seed: a.loop.seed };
    const files = await exportJob(session, { name: basename(d.path), source: createReadStream(d.path) }, {
      data,
      lora,
      training: { ...DEFAULT_TRAIN_OPTIONS, ...a.loop },
      // As `weblora train`: a new run measures the base model's validation loss first.
      evalBase: true,
    }).catch((e: unknown) => {
      throw withFlagAdvice(e);
    });
    for (const dir of new Set(files.map((f) => dirname(join(a.out, f.name))))) await mkdir(dir, { recursive: true });
    // All staged, then renamed: a failed write (a full disk) leaves no half-written job.
    writeFilesAtomic(files.map((f) => ({ path: join(a.out, f.name), data: f.text })));
    io.stderr(`wrote the job (${files.map((f) => f.name).join(', ')}) to ${a.out}\n`);
    io.stdout(`accelerate launch --config_file ${join(a.out, 'accelerate/single_gpu.yaml')} ${join(a.out, 'train.py')}\n`);
    return EXIT_OK;
  } finally {
    session.dispose();
  }
}
