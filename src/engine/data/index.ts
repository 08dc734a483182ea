// Public surface of the data pipeline (see pipeline.ts for the usual entry point).
export { prepareDataset, prepareLoaded, type PrepareOptions, type PreparedDataset } from './pipeline';
export { loadDataset, DatasetFormatError, type DataFile, type LoadOptions, type LoadedDataset, type FileReport, type SourcedSample } from './load';
export { buildExamples, type ExampleOptions, type BuiltExamples } from './examples';
export { makeBatches, bucketSizes, bucketFor, padIdOf, type Batch, type BatchOptions, type BatchExample } from './batches';
export { packRows } from './packing';
export { splitTrainVal, type SplitOptions } from './split';
export { mulberry32, shuffleInPlace, shuffled } from '../rng';
export { readJsonl, iterateJsonl, JsonlParser, type JsonlResult, type Container, type TextLine } from './jsonl';
export type { JsonObject, JsonRecord, JsonlEvent } from './json-record';
export { DatasetFileError, explainNoRecords, notText, type DatasetProblem } from './diagnose';
export { chunksOf, type DataSource, type DataChunk } from './source';
export {
  detectFormat,
  classifyRecord,
  normalizeRecord,
  DATASET_FORMATS,
  COMMON_COLUMNS,
  describeColumns,
  type DatasetFormat,
  type ColumnMapping,
  type FormatChoice,
  type Detection,
  type Normalized,
} from './formats';
export {
  renderSample,
  renderPrompt,
  resolveTemplate,
  toMessages,
  TEXT_TEMPLATES,
  type PromptTemplate,
  type TextTemplateName,
  type Rendered,
  type TrainedSpan,
} from './template';
export { tokenizeRendered, eosTextOf, encodePrompt, type TokenizeOptions, type TokenizedSample, type TrainOn } from './tokenize';
export { formatIssue, summarizeReport, type DataReport, type DataCounts } from './report';
export type { DataIssue, Conversation, Turn, Role, Sample, TokenizedExample } from './types';
