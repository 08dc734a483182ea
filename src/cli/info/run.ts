// `weblora info`: read from config.json and the tokenizer only. The weights file is never
// loaded, so this answers at once even for a model too big to train here.
import { parseModelConfig, parameterCount, type ModelConfig } from '../../engine/model/config';
import { estimateTrainingMemory, loraParameterCount } from '../../engine/model/memory';
import { loadModelFromFolder } from '../../engine/model/source/source-folder';
import { EXIT_OK } from '../shared/errors';
import { bytes, count } from '../shared/format';
import type { CliIO } from '../shared/io';
import { printable } from '../shared/printable';
import { resolveTargets } from '../shared/targets';
import type { InfoArgs } from './args';

/** Which layers see every earlier token and which a sliding window of them (Gemma 3). */
function attentionLayers(c: ModelConfig): string {
  const sliding = c.layerTypes.filter((t) => t === 'sliding_attention').length;
  if (sliding === 0) return `every layer sees all earlier tokens`;
  const local = c.ropeLocalTheta === null ? '' : `, rope theta ${c.ropeLocalTheta}`;
  return `${sliding} sliding-window layers (window ${c.slidingWindow}${local}), ${c.numLayers - sliding} full`;
}

export async function runInfo(args: InfoArgs, io: CliIO): Promise<number> {
  const targetModules = resolveTargets(args.targets, 'info');
  const files = await loadModelFromFolder(args.model);
  await files.weights.close();
  const c = parseModelConfig(files.config);
  const lora = { r: args.rank, targetModules };
  const mem = estimateTrainingMemory(c, lora, args.batch, args.maxLength, undefined, args.precision);
  const loraParams = loraParameterCount(c, lora);
  const rows: Array<[string, string]> = [
    ['name', files.name],
    ['family', c.family],
    ['parameters', count(parameterCount(c))],
    ['layers', String(c.numLayers)],
    ['hidden size', `${c.hiddenSize} (MLP ${c.intermediateSize})`],
    ['heads', `${c.numHeads} attention, ${c.numKvHeads} key/value, head dim ${c.headDim}`],
    ['attention', attentionLayers(c)],
    ['vocab size', String(c.vocabSize)],
    ['context', `${c.maxPositionEmbeddings} positions, rope theta ${c.ropeTheta}${c.ropeScaling ? `, ${c.ropeScaling.type} scaling x${c.ropeScaling.factor}` : ''}`],
    ['tied embeddings', c.tieWordEmbeddings ? 'yes' : 'no'],
    ['chat template', files.tokenizer.chatTemplate !== null ? 'yes' : 'no'],
    ['weights memory', `${bytes(mem.weightsBytes)} (${args.precision === 'f16-base' ? 'matrices float16, the rest float32' : 'float32'})`],
    ['training memory', `${bytes(mem.totalBytes)} (estimate) at rank ${args.rank} on ${targetModules.join(',')}, batch ${args.batch} x ${args.maxLength} tokens:`],
    ['  weights', bytes(mem.weightsBytes)],
    ['  LoRA', `${bytes(mem.loraBytes)} (${loraParams.toLocaleString('en-US')} parameters, with gradients and AdamW moments)`],
    ['  activations', bytes(mem.activationBytes)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  // The name and figures come from the model's files: shown with control characters escaped.
  io.stdout(rows.map(([k, v]) => `${k.padEnd(width)}${printable(v)}\n`).join(''));
  return EXIT_OK;
}
