// `weblora train`: data -> adapter -> Trainer.run, with a progress line per step, checkpoints
// and a clean stop on Ctrl-C. The training itself is the engine's; this file is the plumbing
// between it and the disk.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loraParameterCount } from '../../engine/model/memory';
import { DEFAULT_TRAIN_OPTIONS, type TrainCheckpoint, type Trainer } from '../../engine/train/trainer';
import type { TrainEvent } from '../../engine/train/events';
import { NonFiniteTrainingError } from '../../engine/train/non-finite';
import type { DataReport } from '../../engine/data';
import { startBackend } from '../shared/backend';
import { OutputWriteError } from '../shared/atomic-write';
import { explainOutOfMemory } from '../shared/backend-errors';
import { checkDataFile, prepareData, printDataReport } from '../shared/data';
import { EXIT_OK, exitCodeOf } from '../shared/errors';
import { count } from '../shared/format';
import type { CliIO, StopSignal } from '../shared/io';
import { openModel, writeAdapterDir } from '../shared/model';
import { lockOutDir } from '../shared/out-lock';
import { printable } from '../shared/printable';
import { setUpAdapter } from './adapter';
import type { TrainArgs } from './args';
import { checkpointDir, keptSteps, readCheckpoint, removeCheckpoint, writeCheckpoint } from './checkpoint';
import { resumeDifferences, runIdentity } from './identity';
import { evalLine, evalRecord, progressLine, stepRecord, TRAIN_LOG, trainLogText, writeTrainLog, type LogHeader, type LogRecord } from './log';

export async function runTrain(a: TrainArgs, io: CliIO): Promise<number> {
  await checkDataFile(a.data.path); // before the checkpoint checks, which would blame the wrong thing
  // Before any work: a folder that cannot be written, or that another run is writing, would
  // otherwise be found out only when the finished adapter is saved.
  const lock = lockOutDir(a.out, { command: 'weblora train', resume: a.resume });
  if (lock.note) io.stderr(`${lock.note}\n`);
  try {
    return await train(a, io);
  } catch (e) {
    if (e instanceof OutputWriteError) throw new Error(`${e.message}. ${nothingLost(a.out)}`);
    throw explainOutOfMemory(e, { what: a.lora.r === undefined ? 'this adapter' : `LoRA rank ${a.lora.r}` });
  } finally {
    lock.release();
  }
}

/** After a failed write: what is still there, and how to go on. */
function nothingLost(out: string): string {
  const kept = keptSteps(out);
  const resume = kept.length ? ` The checkpoint of step ${kept.at(-1)} is intact: run the same command with --resume to continue from it.` : '';
  return `Nothing partial was left: the files already in ${out} (a previous adapter, log or checkpoint) are unchanged.${resume}`;
}

async function train(a: TrainArgs, io: CliIO): Promise<number> {
  const backend = await startBackend(a.backend, io, a.kernels, a.precision);
  const session = await openModel(a.model);
  let trainer: Trainer | undefined;
  try {
    const d = a.data;
    // Read (or refuse) before minutes of tokenizing.
    const saved = a.resume ? await readCheckpoint(a.out, a.resumeFrom) : null;
    if (!a.resume && existsSync(join(checkpointDir(a.out), 'checkpoint.json'))) {
      throw new Error(
        `${checkpointDir(a.out)} holds the checkpoint of an unfinished run: add --resume to continue it, or delete that folder to start over`,
      );
    }
    // Before the data: a contradicting flag should fail before minutes of tokenizing.
    const start = await setUpAdapter(session, a, io);
    for (const w of session.trainingWarnings(start.config, d.maxLength, '--max-len')) io.stderr(`warning: ${w}\n`);
    const prepared = await prepareData(session, d, { io, seed: a.loop.seed, ...(a.valFraction === undefined ? {} : { valFraction: a.valFraction }) });
    if (prepared.train.length === 0) {
      printDataReport(prepared.report, io);
      throw new Error(`${d.path}: no usable training examples (see the report above)`);
    }
    printDataReport(prepared.report, io, join(a.out, TRAIN_LOG));

    trainer = session.trainer(prepared.train, prepared.val, { ...DEFAULT_TRAIN_OPTIONS, ...a.loop, maxLength: d.maxLength });
    const t = trainer;
    const run = await runIdentity(session, a, prepared.template, start, t.options, io, backend.precision);
    const header: LogHeader = {
      model: a.model,
      data: d.path,
      backend: backend.name,
      kernels: backend.kernels,
      precision: backend.precision,
      frozen_matmul: backend.frozenMatmul,
      template: prepared.template,
      lora: start.config,
      options: t.options,
      total_steps: t.totalSteps,
      data_report: withoutLengths(prepared.report),
    };
    io.stderr(
      `training: ${prepared.train.length} examples (${prepared.val.length} held out), ${t.totalSteps} step${t.totalSteps === 1 ? '' : 's'} of ` +
        `${a.loop.batchSize * a.loop.gradAccum} examples; LoRA rank ${start.config.r} on ${start.config.targetModules.join(',')} ` +
        `(${count(loraParameterCount(session.loaded.config, start.config))} trainable parameters)\n`,
    );

    let records: LogRecord[] = [];
    let elapsedMs = 0;
    if (saved) {
      const diffs = resumeDifferences(saved.run, run, io.stderr);
      if (diffs.length) {
        throw new Error(
          `--resume: the checkpoint in ${checkpointDir(a.out)} was made with other settings (${diffs.join('; ')}); ` +
            'give the first run\'s flags, or delete the checkpoint to start over',
        );
      }
      t.restore(saved.train);
      records = saved.log.filter((r) => r.step <= saved.train.step);
      elapsedMs = saved.elapsedMs;
      io.stderr(`resuming at step ${t.step} of ${t.totalSteps} from ${checkpointDir(a.out)} (checksums verified)\n`);
    }

    const elapsedBefore = elapsedMs;
    const save = (cp: TrainCheckpoint, status: 'running' | 'interrupted') => {
      writeCheckpoint(a.out, { train: cp, run, log: records, elapsedMs }, a.keepCheckpoints);
      writeTrainLog(a.out, header, status, records);
    };
    const onEvent = (e: TrainEvent) => {
      if (e.type === 'step') {
        const r = stepRecord(e, elapsedBefore);
        elapsedMs = r.elapsed_ms;
        records.push(r);
        io.stdout(progressLine(e, elapsedMs));
      } else if (e.type === 'eval' || e.type === 'base-eval') {
        const r = evalRecord(e.type === 'eval' ? e.step : 0, e.valLoss);
        records.push(r);
        io.stdout(evalLine(r));
      } else if (e.type === 'checkpoint') {
        save(e.checkpoint, 'running');
      } else if (e.type === 'warning') {
        io.stderr(`warning: ${printable(e.message)}\n`);
      }
    };
    // Taken right before run(), in the same synchronous stretch: an earlier Ctrl-C simply quits
    // (nothing trained yet), and none can slip in between.
    let stoppedBy: StopSignal = 'SIGINT';
    const release = io.interrupts.take((signal) => {
      stoppedBy = signal;
      const how = signal === 'SIGINT' ? 'interrupted' : 'terminated (SIGTERM)';
      io.stderr(`\n${how}: stopping after step ${t.step + 1} to write a checkpoint (Ctrl-C again to quit at once)\n`);
      t.cancel();
    });
    try {
      await t.run(onEvent, { evalBase: !saved });
    } catch (e) {
      // The log says why the run ended; the last finite checkpoint stays for --resume-from.
      if (e instanceof NonFiniteTrainingError) writeTrainLog(a.out, header, 'failed', records, e.message);
      throw e;
    } finally {
      release();
    }

    const adapter = await session.exportAdapter();
    if (t.step < t.totalSteps) {
      // The checkpoint first: it is what --resume needs; the adapter so far is a convenience.
      save(await t.checkpoint(), 'interrupted');
      writeAdapterDir(a.out, adapter);
      io.stderr(
        `stopped at step ${t.step} of ${t.totalSteps}: checkpoint in ${checkpointDir(a.out)}, adapter so far in ${a.out}. ` +
          'Run the same command with --resume to continue.\n',
      );
      return exitCodeOf(stoppedBy);
    }
    writeAdapterDir(a.out, adapter, [{ path: join(a.out, TRAIN_LOG), data: trainLogText(header, 'done', records) }]);
    // The run is complete: its results are the adapter and the log, and a stale checkpoint
    // would only block the next run in this folder.
    removeCheckpoint(a.out);
    io.stderr(`saved the adapter (adapter_config.json, adapter_model.safetensors) and ${TRAIN_LOG} to ${a.out}\n`);
    return EXIT_OK;
  } finally {
    trainer?.dispose();
    session.dispose();
  }
}

function withoutLengths(r: DataReport): Omit<DataReport, 'lengths'> {
  const { lengths: _lengths, ...rest } = r;
  return rest;
}
