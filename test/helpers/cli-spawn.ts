// Running `weblora` as a real process through bin/weblora.mjs, for real signals: `signal` is
// sent `delayMs` after the output (stdout + stderr) first matches `when`.
import { spawn } from 'node:child_process';
import type { CliRun } from './cli-run';
import { REPO_ROOT } from './paths';

export interface SignalledRun extends CliRun {
  /** Milliseconds from the signal to the process's exit; null when it was never sent. */
  stoppedAfterMs: number | null;
}

export function spawnCli(
  argv: string[],
  { when, signal = 'SIGINT', delayMs = 0, onOutput }: { when?: RegExp; signal?: NodeJS.Signals; delayMs?: number; onOutput?: (all: string) => void } = {},
): Promise<SignalledRun> {
  const child = spawn(process.execPath, ['bin/weblora.mjs', ...argv], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let sentAt: number | null = null;
  let armed = false;
  const seen = () => {
    onOutput?.(stdout + stderr);
    if (!when || armed || !when.test(stdout + stderr)) return;
    armed = true;
    setTimeout(() => {
      sentAt = performance.now();
      child.kill(signal);
    }, delayMs);
  };
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    seen();
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    seen();
  });
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, stoppedAfterMs: sentAt === null ? null : performance.now() - sentAt })),
  );
}
