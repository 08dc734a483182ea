// The Train panel's settings outside the page: as a `weblora train` command (parsed back by the
// CLI's own parser, every setting equal) and read back from a training config file (every
// field checked, bad ones named, nothing changed on an error).
import { describe, expect, it } from 'vitest';
import { trainCommand } from '../../src/app/train/cli-command';
import { ConfigFileError, readTrainingConfig } from '../../src/app/train/config-file';
import { TRAIN_PRESETS } from '../../src/app/train/presets';
import { parseTrainArgs } from '../../src/cli/train/args';
import { DEFAULT_DATA_OPTIONS, type DataOptions, type TrainConfig } from '../../src/worker/api';

/** The shell words of a generated command (single-quoted values, backslash-newline joins). */
function argvOf(command: string): string[] {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  const body = command.replace(/ \\\n\s+/g, ' ').replace(/^npx weblora train /, '');
  for (let m = re.exec(body); m; m = re.exec(body)) words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return words;
}

function expectSameRun(config: TrainConfig, data: DataOptions, command: string) {
  const a = parseTrainArgs(argvOf(command));
  expect(a.loop).toMatchObject({
    learningRate: config.learningRate,
    epochs: config.epochs,
    batchSize: config.batchSize,
    gradAccum: config.gradAccum,
    seed: config.seed,
    shuffle: config.shuffle,
    warmupSteps: config.warmupSteps,
    schedule: config.schedule,
    weightDecay: config.weightDecay,
    maxGradNorm: config.maxGradNorm,
    checkpointEvery: config.checkpointEvery,
  });
  expect(a.loop.maxSteps ?? 0).toBe(config.maxSteps);
  expect(a.loop.evalEvery).toBe(data.valFraction > 0 ? config.evalEvery : 0);
  expect(a.data.maxLength).toBe(data.maxLength);
  expect(a.data.template).toBe(data.template);
  expect(a.data.trainOn).toBe(data.trainOn);
  expect(a.valFraction).toBe(data.valFraction > 0 ? data.valFraction : undefined);
  if (config.init === 'current') expect(a.initAdapter).toBe('ADAPTER_DIR');
  else expect(a.lora).toEqual({ r: config.lora.r, alpha: config.lora.alpha, targets: config.lora.targetModules, dropout: config.lora.dropout || undefined, rslora: config.lora.useRslora || undefined });
}

describe('the same run as a weblora train command', () => {
  it('every preset, with the default data options, parses back to the same settings', () => {
    for (const p of Object.values(TRAIN_PRESETS)) {
      const command = trainCommand(p.config, DEFAULT_DATA_OPTIONS, 'HuggingFaceTB/SmolLM2-135M-Instruct', 'sample-instruct.jsonl');
      expectSameRun(p.config, DEFAULT_DATA_OPTIONS, command);
    }
  });

  it('custom settings: columns, rsLoRA, no shuffling, no clipping, a quoted file name, the current adapter', () => {
    const config: TrainConfig = {
      ...TRAIN_PRESETS.standard!.config,
      lora: { r: 4, alpha: 4, dropout: 0.1, useRslora: true, targetModules: ['q_proj', 'o_proj'] },
      learningRate: 3e-3,
      epochs: 2,
      maxSteps: 17,
      gradAccum: 3,
      schedule: 'linear',
      weightDecay: 0.01,
      maxGradNorm: 0,
      shuffle: false,
      seed: 5,
      checkpointEvery: 0,
    };
    const data: DataOptions = { ...DEFAULT_DATA_OPTIONS, format: 'columns', columns: { prompt: 'question', response: 'answer' }, template: 'chatml', trainOn: 'all', maxLength: 128, valFraction: 0 };
    const command = trainCommand(config, data, 'path/to/my model', "it's data.jsonl");
    expectSameRun(config, data, command);
    const a = parseTrainArgs(argvOf(command));
    expect(a.model).toBe('path/to/my model');
    expect(a.data.path).toBe("it's data.jsonl");
    expect(a.data.columns).toEqual({ prompt: 'question', response: 'answer' });
    expectSameRun({ ...config, init: 'current' }, data, trainCommand({ ...config, init: 'current' }, data, 'm', 'd.jsonl'));
  });
});

describe('training settings read from a file', () => {
  const base = TRAIN_PRESETS.standard!.config;

  it('an exported training config gives back its settings; unknown keys are listed', () => {
    const saved: TrainConfig = { ...TRAIN_PRESETS.quick!.config, learningRate: 7e-4, maxSteps: 12, lora: { ...TRAIN_PRESETS.quick!.config.lora, r: 2 } };
    const file = JSON.stringify({ weblora: 1, base_model: 'stories260K', training: { ...saved, colour: 'blue' }, losses: [] });
    const { config, ignored } = readTrainingConfig(file, 'run-training-config.json', base);
    expect(config).toEqual(saved);
    expect(ignored).toEqual(['colour']);
    // A bare settings object works too, over the current settings.
    expect(readTrainingConfig(JSON.stringify({ batchSize: 2 }), 'x.json', base).config).toEqual({ ...base, batchSize: 2 });
  });

  it('each bad field is named with what it should be, and nothing is applied', () => {
    const bad = JSON.stringify({ training: { learningRate: -1, epochs: 1.5, schedule: 'wavy', lora: { r: 0, targetModules: [] } } });
    let error: unknown;
    try {
      readTrainingConfig(bad, 'bad.json', base);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigFileError);
    const m = (error as Error).message;
    expect(m).toMatch(/^bad\.json: /);
    for (const field of ['"learningRate" is -1', '"epochs" is 1.5', '"schedule" is "wavy"', '"lora.r" is 0', '"lora.targetModules" is []']) expect(m).toContain(field);
    expect(m).toContain('Nothing was changed.');
    expect(() => readTrainingConfig('{"training":', 'cut.json', base)).toThrow(/cut\.json is not JSON/);
    expect(() => readTrainingConfig('[1, 2]', 'list.json', base)).toThrow(/list\.json holds no training settings/);
  });
});
