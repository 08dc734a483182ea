// Every subcommand, in the order `weblora --help` lists them.
import type { Command } from './command';
import { infoCommand } from './info/args';
import { generateCommand } from './generate/args';
import { trainCommand } from './train/args';
import { evalCommand } from './eval/args';
import { exportJobCommand } from './export-job/args';

export const COMMANDS: readonly Command[] = [infoCommand, generateCommand, trainCommand, evalCommand, exportJobCommand];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 3;
  return `Usage: weblora <command> [options]

LoRA fine-tuning of small Llama-family language models with TensorFlow.js, in Node.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Run 'weblora <command> --help' for its options.

Environment:
  WEBLORA_DEBUG=1        print the stack trace of a runtime error
  WEBLORA_SWIFTSHADER=1  run --backend webgpu/auto on SwiftShader (CPU Vulkan) when there is no GPU
`;
}
