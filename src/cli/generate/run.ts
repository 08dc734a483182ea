// `weblora generate`: stream a continuation to stdout. Ctrl-C ends the text early, cleanly.
import { encodePrompt, resolveTemplate } from '../../engine/data';
import { startBackend } from '../shared/backend';
import { EXIT_OK, exitCodeOf } from '../shared/errors';
import type { CliIO, StopSignal } from '../shared/io';
import { printable, printableLines } from '../shared/printable';
import { openModel, readAdapterDir } from '../shared/model';
import type { Session } from '../../engine/session';
import type { GenerateArgs } from './args';

export async function runGenerate(a: GenerateArgs, io: CliIO): Promise<number> {
  await startBackend(a.backend, io, a.kernels, a.precision);
  const session = await openModel(a.model);
  const stop = new AbortController();
  let stoppedBy: StopSignal = 'SIGINT';
  const release = io.interrupts.take((signal) => {
    stoppedBy = signal;
    stop.abort();
  });
  try {
    if (a.adapter) {
      const adapter = await session.importAdapter(await readAdapterDir(a.adapter));
      io.stderr(`adapter: ${a.adapter} (rank ${adapter.config.r}, alpha ${adapter.config.alpha}, ${printable(adapter.config.targetModules.join(','))})\n`);
    }
    const prompt = promptOf(session, a, io);
    const long = session.generationWarning(typeof prompt === 'string' ? session.tokenizer.encode(prompt).length : prompt.length, a.maxNewTokens);
    if (long) io.stderr(`warning: ${long}\n`);
    const result = await session.generate(prompt, a.adapter ? 'tuned' : 'base', {
      maxNewTokens: a.maxNewTokens,
      temperature: a.temperature,
      topP: a.topP,
      topK: a.topK,
      seed: a.seed,
      repetitionPenalty: a.repetitionPenalty,
      stopStrings: a.stop,
      // The model's text, newlines kept; any other control character (an escape sequence) shown escaped.
      onText: (delta) => io.stdout(printableLines(delta)),
      signal: stop.signal,
    });
    io.stdout('\n');
    const decodeTokens = Math.max(0, result.ids.length - 1);
    const speed = decodeTokens > 0 && result.decodeMs > 0 ? `, ${((decodeTokens / result.decodeMs) * 1000).toFixed(1)} tokens/s` : '';
    io.stderr(`[${result.ids.length} tokens, finished by ${result.finishReason}; prompt ${result.promptIds.length} tokens in ${result.prefillMs.toFixed(0)} ms${speed}]\n`);
    return result.finishReason === 'aborted' ? exitCodeOf(stoppedBy) : EXIT_OK;
  } finally {
    release();
    session.dispose();
  }
}

/** Raw text, or an instruction wrapped in the same template training uses. */
function promptOf(session: Session, a: GenerateArgs, io: CliIO): string | number[] {
  if (a.template === 'none') return a.prompt;
  const template = resolveTemplate(a.template, session.tokenizer);
  io.stderr(`template: ${template}\n`);
  return encodePrompt({ turns: [{ role: 'user', content: a.prompt }] }, session.tokenizer, template);
}
