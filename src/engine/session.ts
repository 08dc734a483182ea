// One loaded model and its adapter: the surface the worker and the CLI drive. It owns the
// tensors; callers pass plain data in and get plain data out.
import { loadModel, type LoadedModel } from './model/load';
import { modelFingerprint } from './model/fingerprint';
import { parameterCount } from './model/config';
import type { ModelFiles } from './model/source/source-types';
import { estimateTrainingMemory, loraParameterCount, type MemoryEstimate } from './model/memory';
import { createLoraAdapter, disposeAdapter, rankWarnings, type LoraAdapter, type LoraConfig } from './lora/lora';
import { beyondContext } from './model/context';
import { exportPeft, importPeft, type PeftFiles } from './lora/peft';
import { mergedSafetensors } from './lora/merge';
import { mulberry32 } from './rng';
import { prepareDataset, type PrepareOptions, type PreparedDataset } from './data/pipeline';
import { padIdOf } from './data/batches';
import type { DataFile } from './data/load';
import { Trainer, type TrainOptions } from './train/trainer';
import { evaluate } from './train/evaluate';
import { generate, type GenerateOptions, type GenerateResult } from './generate/generate';
import { generateRows, type GenerateRowsOptions, type GenerateRowsResult } from './generate/generate-rows';
import type { BatchExample } from './data/batches';
import { promptIdsOf } from './data/tokenize';

export interface ModelSummary {
  name: string;
  family: string;
  parameters: number;
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  heads: number;
  kvHeads: number;
  hasChatTemplate: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** Identifies the model by content (model/fingerprint.ts), however it was loaded. */
  fingerprint: string;
  /** SHA-256 of model.safetensors, where it was computed (Session.weightsSha256). */
  weightsSha256: string | null;
}

export type AdapterOrigin = 'new' | 'imported' | 'trained';

export interface AdapterSummary {
  origin: AdapterOrigin;
  config: LoraConfig;
  parameters: number;
}

/** One held-out example under the base model and the adapter: losses and generated answers. */
export interface ExampleComparison {
  baseLoss: number;
  tunedLoss: number | null;
  base: string;
  tuned: string | null;
}

export class Session {
  adapter: LoraAdapter | null = null;
  /** Where the current adapter came from (for export metadata and the UI). */
  adapterOrigin: AdapterOrigin | null = null;
  /**
   * SHA-256 of model.safetensors when the caller computed it (model/weights-sha256.ts, cached by
   * file): exported adapters record it as the base model they were trained on.
   */
  weightsSha256: string | null = null;

  private constructor(
    readonly loaded: LoadedModel,
    readonly files: ModelFiles,
    readonly fingerprint: string,
  ) {}

  static async open(files: ModelFiles): Promise<Session> {
    try {
      const fingerprint = await modelFingerprint(files.config, files.weights);
      return new Session(await loadModel(files), files, fingerprint);
    } finally {
      await files.weights.close();
    }
  }

  get tokenizer() {
    return this.loaded.tokenizer;
  }

  get padId(): number {
    return padIdOf(this.loaded.tokenizer);
  }

  summary(): ModelSummary {
    const c = this.loaded.config;
    return {
      name: this.loaded.name,
      family: c.family,
      parameters: parameterCount(c),
      layers: c.numLayers,
      hiddenSize: c.hiddenSize,
      vocabSize: c.vocabSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      hasChatTemplate: this.loaded.tokenizer.chatTemplate !== null,
      bosTokenId: this.loaded.tokenizer.bosTokenId,
      eosTokenId: this.loaded.tokenizer.eosTokenId,
      fingerprint: this.fingerprint,
      weightsSha256: this.weightsSha256,
    };
  }

  memoryEstimate(lora: Pick<LoraConfig, 'r' | 'targetModules'>, batchSize: number, seqLen: number): MemoryEstimate & { loraParameters: number } {
    return { ...estimateTrainingMemory(this.loaded.config, lora, batchSize, seqLen), loraParameters: loraParameterCount(this.loaded.config, lora) };
  }

  /**
   * What a trusted tool would warn about before training this LoRA at this length: a rank above
   * a module's smaller side, a length beyond the model's context. `what` names the length setting.
   */
  trainingWarnings(lora: LoraConfig, maxLength: number, what = 'the maximum length'): string[] {
    const context = beyondContext(this.loaded.config, maxLength, what);
    return [...rankWarnings(this.loaded.config, lora), ...(context ? [context] : [])];
  }

  /** A warning when prompt + new tokens would run beyond the model's context, else null. */
  generationWarning(promptTokens: number, maxNewTokens: number): string | null {
    return beyondContext(this.loaded.config, promptTokens + maxNewTokens, `the prompt (${promptTokens} tokens) plus up to ${maxNewTokens} new tokens`);
  }

  prepareData(files: DataFile | readonly DataFile[], opts: PrepareOptions): Promise<PreparedDataset> {
    return prepareDataset(files, this.loaded.tokenizer, opts);
  }

  newAdapter(config: LoraConfig, seed: number): LoraAdapter {
    this.setAdapter(createLoraAdapter(this.loaded.config, config, mulberry32(seed ^ 0x5eed)), 'new');
    return this.adapter!;
  }

  async importAdapter(files: PeftFiles): Promise<LoraAdapter> {
    this.setAdapter(await importPeft(files, this.loaded.config), 'imported');
    return this.adapter!;
  }

  /** The adapter has been trained from here on (it was new or imported before). */
  markTrained(): void {
    if (this.adapter) this.adapterOrigin = 'trained';
  }

  adapterSummary(): AdapterSummary | null {
    const a = this.adapter;
    if (!a || !this.adapterOrigin) return null;
    let parameters = 0;
    for (const l of a.layers.values()) parameters += l.a.size + l.b.size;
    return { origin: this.adapterOrigin, config: { ...a.config, targetModules: [...a.config.targetModules] }, parameters };
  }

  exportAdapter(): Promise<PeftFiles> {
    return exportPeft(this.requireAdapter(), this.files.baseModelId === undefined ? this.loaded.name : this.files.baseModelId, this.weightsSha256 ? { base_model_sha256: this.weightsSha256 } : {});
  }

  exportMergedWeights(): Promise<Uint8Array> {
    return mergedSafetensors(this.loaded.model.weights, this.loaded.config, this.requireAdapter());
  }

  /** A complete model folder (file name -> contents) with the adapter merged into the weights. */
  async exportMergedModel(): Promise<Record<string, string | Uint8Array>> {
    const json = (x: unknown) => JSON.stringify(x, null, 2) + '\n';
    const out: Record<string, string | Uint8Array> = { 'config.json': json(this.files.config) };
    if (this.files.generationConfig) out['generation_config.json'] = json(this.files.generationConfig);
    const tok = this.loaded.tokenizer.files;
    if (tok) {
      out['tokenizer.json'] = json(tok['tokenizer.json']);
      out['tokenizer_config.json'] = json(tok['tokenizer_config.json']);
    }
    out['model.safetensors'] = await this.exportMergedWeights();
    return out;
  }

  trainer(train: readonly BatchExample[], val: readonly BatchExample[], options: Omit<TrainOptions, 'padId'>): Trainer {
    return new Trainer(this.loaded.model, this.requireAdapter(), train, val, { ...options, padId: this.padId });
  }

  evalLoss(examples: readonly BatchExample[], which: 'base' | 'tuned', batchSize = 8, maxLength = 256, signal?: AbortSignal): Promise<number> {
    const adapter = which === 'tuned' ? this.requireAdapter() : null;
    return evaluate(this.loaded.model, adapter, examples, { batchSize, maxLength, padId: this.padId, ...(signal ? { signal } : {}) });
  }

  generate(prompt: string | number[], which: 'base' | 'tuned', opts: GenerateOptions): Promise<GenerateResult> {
    const adapter = which === 'tuned' ? this.requireAdapter() : null;
    return generate(this.loaded.model, this.loaded.tokenizer, prompt, { ...opts, adapter });
  }

  /**
   * Several generations in one batch (generate-rows.ts): each prompt with the base model or with
   * the adapter. One forward per step serves every row.
   */
  generateRows(rows: readonly { prompt: string | number[]; which: 'base' | 'tuned' }[], opts: Omit<GenerateRowsOptions, 'adapter'>): Promise<GenerateRowsResult> {
    const adapter = rows.some((r) => r.which === 'tuned') ? this.requireAdapter() : null;
    return generateRows(this.loaded.model, this.loaded.tokenizer, rows.map((r) => ({ prompt: r.prompt, adapter: r.which === 'tuned' })), { ...opts, adapter });
  }

  /**
   * Losses and greedy-or-sampled answers of each example, base and (with an adapter) tuned: every
   * answer from one batched generation, each as `generate` would give it alone.
   */
  async compareOn(examples: readonly BatchExample[], maxLength: number, opts: Omit<GenerateRowsOptions, 'adapter' | 'onText'>): Promise<ExampleComparison[]> {
    const which: Array<'base' | 'tuned'> = this.adapter ? ['base', 'tuned'] : ['base'];
    const answers = await this.generateRows(
      examples.flatMap((ex) => which.map((w) => ({ prompt: promptIdsOf(ex), which: w }))),
      opts,
    );
    const out: ExampleComparison[] = [];
    for (const [i, ex] of examples.entries()) {
      const tuned = which.length === 2;
      out.push({
        baseLoss: await this.evalLoss([ex], 'base', 1, maxLength),
        tunedLoss: tuned ? await this.evalLoss([ex], 'tuned', 1, maxLength) : null,
        base: answers.rows[i * which.length]!.text,
        tuned: tuned ? answers.rows[i * 2 + 1]!.text : null,
      });
    }
    return out;
  }

  dispose(): void {
    if (this.adapter) disposeAdapter(this.adapter);
    this.adapter = null;
    for (const t of this.loaded.model.weights.values()) t.dispose();
    this.loaded.model.dispose();
  }

  private setAdapter(adapter: LoraAdapter, origin: AdapterOrigin): void {
    if (this.adapter) disposeAdapter(this.adapter);
    this.adapter = adapter;
    this.adapterOrigin = origin;
  }

  private requireAdapter(): LoraAdapter {
    if (!this.adapter) throw new Error('no adapter yet: train one or import one first');
    return this.adapter;
  }
}

