// `weblora eval`: the same masked loss training reports, over a whole file.
import { startBackend } from '../shared/backend';
import { checkDataFile, prepareData, printDataReport } from '../shared/data';
import { EXIT_OK, exitCodeOf } from '../shared/errors';
import { perplexity } from '../shared/format';
import type { CliIO, StopSignal } from '../shared/io';
import { openModel, readAdapterDir } from '../shared/model';
import { describeRunLog } from '../shared/run-log';
import type { EvalArgs } from './args';
import { beyondContext } from '../../engine/model/context';

export async function runEval(a: EvalArgs, io: CliIO): Promise<number> {
  await checkDataFile(a.data.path);
  await startBackend(a.backend, io, a.kernels, a.precision);
  const session = await openModel(a.model);
  // Ctrl-C or SIGTERM stops tokenizing or evaluating at the next batch, with what was printed kept.
  const stop = new AbortController();
  let stoppedBy: StopSignal = 'SIGINT';
  const release = io.interrupts.take((signal) => {
    stoppedBy = signal;
    stop.abort();
  });
  try {
    const d = a.data;
    const beyond = beyondContext(session.loaded.config, d.maxLength, '--max-len');
    if (beyond) io.stderr(`warning: ${beyond}\n`);
    const prepared = await prepareData(session, d, { io, signal: stop.signal });
    printDataReport(prepared.report, io);
    const examples = prepared.train;
    if (examples.length === 0) throw new Error(`${d.path}: no usable examples to evaluate`);
    // Imported up front so a bad adapter fails before minutes of base evaluation.
    if (a.adapter) {
      await session.importAdapter(await readAdapterDir(a.adapter));
      // An adapter trained elsewhere (a GPU job) comes with its run's log: say what it logged.
      const logged = await describeRunLog(a.adapter);
      if (logged) io.stderr(`${logged}\n`);
    }
    const line = (label: string, loss: number) => `${label.padEnd(6)} loss ${loss.toFixed(4)}  perplexity ${perplexity(loss).toFixed(3)}\n`;
    const base = await session.evalLoss(examples, 'base', a.batch, d.maxLength, stop.signal);
    io.stdout(line('base', base));
    if (a.adapter) {
      const tuned = await session.evalLoss(examples, 'tuned', a.batch, d.maxLength, stop.signal);
      io.stdout(line('tuned', tuned));
    }
    return EXIT_OK;
  } catch (e) {
    if (!stop.signal.aborted) throw e;
    io.stderr(`\n${stoppedBy === 'SIGINT' ? 'interrupted' : 'terminated'}: evaluation stopped before the end\n`);
    return exitCodeOf(stoppedBy);
  } finally {
    release();
    session.dispose();
  }
}
