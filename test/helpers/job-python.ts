// Running an exported job's train.py in this machine's python3, without torch or transformers:
// its pure-Python part (formatting, loss masks, batches, schedule, LoRA init) over a tokenizer
// that answers only the texts WebLoRA itself tokenized, with WebLoRA's ids. A text train.py
// renders differently from WebLoRA is therefore not in the table, and the example fails.
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { JobFile } from '../../src/engine/job/job';
import { loadDataset, type DataFile } from '../../src/engine/data/load';
import { renderSample, toMessages, type PromptTemplate } from '../../src/engine/data/template';
import { eosTextOf } from '../../src/engine/data/tokenize';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';

export function python3(): string | null {
  const r = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout || r.stderr).trim() : null;
}

export async function writeJob(dir: string, files: readonly JobFile[]): Promise<void> {
  for (const f of files) {
    await mkdir(dirname(join(dir, f.name)), { recursive: true });
    await writeFile(join(dir, f.name), f.text);
  }
}

/** Every text WebLoRA tokenizes for these samples (whole texts and span prefixes), with its ids. */
export async function tokenTable(file: DataFile, tok: TextTokenizer, template: PromptTemplate): Promise<unknown> {
  const loaded = await loadDataset(file);
  const eosText = template === 'chat-template' ? null : eosTextOf(tok);
  const table = new Map<string, [boolean, string, number[]]>();
  const add = (special: boolean, text: string) => table.set(`${special}\n${text}`, [special, text, tok.encode(text, { addSpecialTokens: special })]);
  const chats = new Map<string, string>();
  for (const { sample } of loaded.samples) {
    if (template === 'chat-template' && sample.kind === 'conversation') {
      // What train.py asks the tokenizer's chat template for, answered with WebLoRA's renderings.
      const messages = toMessages(sample.conversation);
      const chat = (m: typeof messages, prompt: boolean) => chats.set(JSON.stringify([m, prompt]), tok.applyChatTemplate(m, { addGenerationPrompt: prompt }));
      chat(messages, false);
      messages.forEach((m, j) => {
        if (m.role === 'assistant') {
          chat(messages.slice(0, j), true);
          chat(messages.slice(0, j + 1), false);
        }
      });
    }
    const r = renderSample(sample, tok, { template, eosText });
    add(r.addSpecialTokens, r.text);
    for (const s of r.spans) {
      add(r.addSpecialTokens, s.before);
      add(r.addSpecialTokens, s.through);
    }
  }
  const eos = tok.eosTokenId!;
  const eosDecoded = tok.decode([eos], { skipSpecialTokens: false });
  add(false, eosDecoded);
  return { encode: [...table.values()], chat: Object.fromEntries(chats), decode: { [eos]: eosDecoded }, eos_token_id: eos, pad_token_id: tok.padTokenId };
}

const DRIVER = String.raw`
import importlib.util, json, sys
job_dir, table_path, out_path, shapes = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
spec = importlib.util.spec_from_file_location("train", job_dir + "/train.py")
train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train)
t = json.load(open(table_path, encoding="utf-8"))

class WebLoRATokens:
    def __init__(self):
        self.table = {(bool(s), text): ids for s, text, ids in t["encode"]}
        self.eos_token_id, self.pad_token_id = t["eos_token_id"], t["pad_token_id"]
    def encode(self, text, add_special_tokens=True):
        key = (bool(add_special_tokens), text)
        if key not in self.table:
            raise KeyError("WebLoRA never tokenized " + json.dumps(text)[:160])
        return self.table[key]
    def decode(self, ids):
        return t["decode"][str(ids[0])]
    def apply_chat_template(self, messages, add_generation_prompt=False):
        key = json.dumps([messages, bool(add_generation_prompt)], separators=(",", ":"), ensure_ascii=False)
        if key not in t["chat"]:
            raise KeyError("WebLoRA never rendered these messages " + key[:160])
        return t["chat"][key]

job = train.read_job(job_dir + "/job.json")
records = train.read_records(job_dir + "/" + job["data"]["path"])
tok = WebLoRATokens()
out = train.dump_batches(job, records, tok, train.pad_id_of(tok), out_path)
o = job["training"]
warmup = train.effective_warmup(o["warmupSteps"], out["total_steps"])
tr, va, _, _ = train.prepare(job, records, tok)
extra = {
    "token_check_ok": train.check_tokens(job, tr, va, train.pad_id_of(tok), strict=False),
    "learning_rates": [train.learning_rate(s, o["learningRate"], warmup, out["total_steps"], o["schedule"]) for s in range(out["total_steps"])],
    "lora_a": [v[:16] + [sum(v)] for v in train.lora_a_values([tuple(s) for s in shapes], o["seed"])],
}
json.dump(extra, open(out_path + ".extra.json", "w"))
`;

export interface PythonDump {
  template: string;
  eos_text: string | null;
  pad_id: number;
  steps_per_epoch: number;
  total_steps: number;
  train: DumpedExample[];
  val: DumpedExample[];
  dropped: Array<{ file: string; line: number; reason: string }>;
  epoch0_batches: Array<{ example_ids: number[]; seq_len: number; trained_tokens: number }>;
  learning_rates: number[];
  /** train.py's check of job.json's first examples against its own tokens. */
  token_check_ok: boolean;
  lora_a: number[][];
}

export interface DumpedExample {
  source: { file: string; line: number };
  split: string;
  input_ids: number[];
  loss_mask: number[];
}

/** train.py's dump_batches for the job in `dir`, and its schedule and LoRA A values for `shapes` ([r, in]). */
export async function runDump(dir: string, table: unknown, shapes: Array<[number, number]>): Promise<PythonDump> {
  const tablePath = join(dir, 'tokens.json');
  const out = join(dir, 'batches.json');
  await writeFile(tablePath, JSON.stringify(table));
  await writeFile(join(dir, 'driver.py'), DRIVER);
  const r = spawnSync('python3', [join(dir, 'driver.py'), dir, tablePath, out, JSON.stringify(shapes)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`train.py failed: ${r.stderr}`);
  const { readFileSync } = await import('node:fs');
  return { ...JSON.parse(readFileSync(out, 'utf8')), ...JSON.parse(readFileSync(`${out}.extra.json`, 'utf8')) };
}
