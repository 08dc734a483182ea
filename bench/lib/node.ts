// Node-only parts of a report: the machine, the software, the git commit, stories260K from disk.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem, arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { tf } from '../../src/engine/tf';
import { REPO_ROOT, STORIES_DIR } from '../../test/helpers/paths';
import type { StoriesFiles } from './models';
import type { BenchReport } from './schema';

export { REPO_ROOT, STORIES_DIR };

export function gitInfo(): BenchReport['git'] {
  const git = (...a: string[]) => execFileSync('git', a, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--', '.', ':!bench/results').length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

export function machineInfo(): Record<string, unknown> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryBytes: totalmem(),
    os: `${platform()} ${release()} ${arch()}`,
    // Other work on the machine skews every figure: the load average says how much there was.
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(join(REPO_ROOT, 'package.json'));
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function softwareInfo(): Record<string, string> {
  return {
    node: process.version,
    tfjs: tf.version.tfjs ?? tf.version_core,
    'tfjs-backend-webgpu': packageVersion('@tensorflow/tfjs-backend-webgpu'),
    'tfjs-backend-wasm': packageVersion('@tensorflow/tfjs-backend-wasm'),
    webgpu: packageVersion('webgpu'),
  };
}

export function storiesFromDisk(dir = STORIES_DIR): StoriesFiles {
  return {
    config: async () => JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
    weights: async () => new Uint8Array(await readFile(join(dir, 'model.safetensors'))),
  };
}

export function defaultOutPath(runner: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return resolve(REPO_ROOT, 'bench/results', `${runner}-${stamp}.json`);
}

export async function writeReport(path: string, report: BenchReport): Promise<string> {
  const out = resolve(path);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + '\n');
  return out;
}
