// train.py of an exported job, as text: the same bytes from the app and the CLI, and no bundler
// or loader needed (a .py imported with ?raw works in Vite only). Edit it as Python: it is
// compiled by test/unit/job-files.test.ts and run by test/unit/job-equivalence.test.ts. No
// backticks or dollar-brace in it (this is a template literal).
export const TRAIN_PY = String.raw`#!/usr/bin/env python3
"""WebLoRA's training run, for GPU servers: Hugging Face transformers + peft, launched by accelerate.

This script reproduces the run WebLoRA defined (job.json), not an approximation of it:
  * the same prompt formatting (WebLoRA's Alpaca / ChatML / plain / raw text templates, or the
    tokenizer's own chat template) and TRL-style tokenisation: the whole text in one pass, each
    answer's span measured by tokenising the text before it and through it, EOS appended as an id;
  * the same loss mask (completion-only unless the run trains on every token), truncation,
    dropped examples, train/validation split (shipped per record in data/dataset.jsonl);
  * the same batches: WebLoRA's seeded shuffle (mulberry32), length buckets or packing;
  * LoRA r / alpha / dropout / rsLoRA / targets, with A initialised from WebLoRA's seed;
  * AdamW (betas, eps, decoupled weight decay), warm-up + schedule, gradient clipping,
    gradient accumulation, epochs / max steps;
  * the loss of an optimizer step = sum of token losses / sum of trained tokens over its
    micro-batches, on any number of GPUs (micro-batches are shared out, the sums are global).
It writes a PEFT adapter and train_log.json in WebLoRA's format (import both in the app).

Everything above "def train(" is plain Python (no torch): --dump-batches and WebLoRA's own
tests run it without transformers. Read README.md for the commands.
"""
import argparse
import contextlib
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LINEAR_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# --- Seeded randomness: WebLoRA's mulberry32 (src/engine/rng.ts), in unsigned 32-bit arithmetic.

def mulberry32(seed):
    state = [seed & 0xFFFFFFFF]

    def random():
        a = (state[0] + 0x6D2B79F5) & 0xFFFFFFFF
        state[0] = a
        t = ((a ^ (a >> 15)) * (a | 1)) & 0xFFFFFFFF
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296.0

    return random


def shuffle_in_place(items, random):
    for i in range(len(items) - 1, 0, -1):
        j = int(math.floor(random() * (i + 1)))
        items[i], items[j] = items[j], items[i]
    return items


# --- Prompt formatting: WebLoRA's src/engine/data/template.ts.

def with_input(turn):
    return turn["content"] + "\n\n" + turn["input"] if turn.get("input") else turn["content"]


TEXT_TEMPLATES = {
    "alpaca": {
        "system": lambda s: s + "\n\n",
        "user": lambda t: "### Instruction:\n" + t["content"] + "\n\n" + ("### Input:\n" + t["input"] + "\n\n" if t.get("input") else ""),
        "assistant_header": "### Response:\n",
        "assistant_end": "",
        "separator": "\n\n",
    },
    "chatml": {
        "system": lambda s: "<|im_start|>system\n" + s + "<|im_end|>\n",
        "user": lambda t: "<|im_start|>user\n" + with_input(t) + "<|im_end|>\n",
        "assistant_header": "<|im_start|>assistant\n",
        "assistant_end": "<|im_end|>",
        "separator": "\n",
    },
    "plain": {
        "system": lambda s: s + "\n\n",
        "user": lambda t: "User: " + with_input(t) + "\n",
        "assistant_header": "Assistant: ",
        "assistant_end": "",
        "separator": "\n",
    },
    "raw": {
        "system": lambda s: s + "\n\n",
        "user": lambda t: with_input(t),
        "assistant_header": "",
        "assistant_end": "",
        "separator": "",
    },
}


def conversation_of(record):
    """A dataset.jsonl record as WebLoRA's Conversation: an optional system text and turns."""
    messages = record["messages"]
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    turns = [m for m in messages if m["role"] != "system"]
    return system, turns


def to_messages(system, turns):
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": t["role"], "content": with_input(t)} for t in turns]


def render(record, tok, template, eos_text):
    """(text, [(before, through) per trained span], add_special_tokens)."""
    if "text" in record:
        return record["text"], [("", record["text"])], True
    system, turns = conversation_of(record)
    if template == "chat-template":
        messages = to_messages(system, turns)
        spans = [
            (tok.apply_chat_template(messages[:j], add_generation_prompt=True), tok.apply_chat_template(messages[: j + 1]))
            for j, m in enumerate(messages)
            if m["role"] == "assistant"
        ]
        return tok.apply_chat_template(messages), spans, False
    tpl = TEXT_TEMPLATES[template]
    text = tpl["system"](system) if system else ""
    spans = []
    last = len(turns) - 1
    for i, t in enumerate(turns):
        if i > 0 and turns[i - 1]["role"] == "assistant":
            text += tpl["separator"]
        if t["role"] == "user":
            text += tpl["user"](t)
            continue
        text += tpl["assistant_header"]
        before = text
        text += t["content"] + tpl["assistant_end"]
        if eos_text and i < last:
            text += eos_text
        spans.append((before, text))
    return text, spans, True


# --- Tokens and loss mask: WebLoRA's src/engine/data/tokenize.ts (TRL's way).

def eos_text_of(tok):
    """The EOS token as text, or None when that text does not tokenise back to the EOS id."""
    if tok.eos_token_id is None:
        return None
    text = tok.decode([tok.eos_token_id])
    back = tok.encode(text, add_special_tokens=False)
    return text if back == [tok.eos_token_id] else None


def tokenize(text, spans, add_special_tokens, tok, max_length, train_on, append_eos):
    cache = {}

    def encode(s):
        if s not in cache:
            cache[s] = list(tok.encode(s, add_special_tokens=add_special_tokens))
        return cache[s]

    input_ids = list(encode(text))
    loss_mask = [0] * len(input_ids)
    for before, through in spans:
        start, end = len(encode(before)), min(len(encode(through)), len(input_ids))
        for i in range(start, end):
            loss_mask[i] = 1
    if append_eos and tok.eos_token_id is not None:
        input_ids.append(tok.eos_token_id)
        loss_mask.append(1)
    if train_on == "all":
        loss_mask = [1] * len(loss_mask)
    if loss_mask:
        loss_mask[0] = 0  # nothing predicts the first token
    full_length = len(input_ids)
    return input_ids[:max_length], loss_mask[:max_length], full_length


def build_examples(records, tok, data):
    """WebLoRA's src/engine/data/examples.ts: render, tokenise, truncate; drop examples with no trained token."""
    template = data["template"]
    text_template = template != "chat-template"
    append_eos_setting = data.get("appendEos")
    eos_text = eos_text_of(tok) if (text_template if append_eos_setting is None else append_eos_setting) else None
    examples, dropped = [], []
    for n, record in enumerate(records, 1):
        source = record.get("source") or {"file": data["path"], "line": n}
        try:
            text, spans, special = render(record, tok, template, eos_text)
            append_eos = append_eos_setting if append_eos_setting is not None else (text_template or "text" in record)
            ids, mask, full_length = tokenize(text, spans, special, tok, data["maxLength"], data["trainOn"], append_eos)
        except Exception as e:  # as WebLoRA: an example that cannot be rendered is dropped with its reason
            dropped.append(dict(source, reason=f"could not render or tokenize: {e}"))
            continue
        if 1 not in mask:
            dropped.append(dict(source, reason="no trained tokens" + (f" (truncated from {full_length} to {data['maxLength']} tokens)" if full_length > data["maxLength"] else "")))
            continue
        examples.append({"input_ids": ids, "loss_mask": mask, "split": record.get("split", "train"), "source": source})
    return examples, dropped, eos_text


# --- Batches and the run's plan: WebLoRA's src/engine/data/batches.ts, packing.ts, train/plan.ts.

def bucket_sizes(max_length):
    sizes, s = [], 16
    while s < max_length:
        sizes.append(s)
        s *= 2
    return sizes + [max_length]


def pack_rows(items, row_length):
    rows, current, used = [], [], 0
    for i, length in items:
        if used + length > row_length and current:
            rows.append(current)
            current, used = [], 0
        current.append(i)
        used += length
    if current:
        rows.append(current)
    return rows


def make_batches(examples, batch_size, max_length, pad_id, seed=0, shuffle=True, packing=False):
    random = mulberry32(seed)
    order = list(range(len(examples)))
    if shuffle:
        shuffle_in_place(order, random)
    if packing:
        rows = [(max_length, ids) for ids in pack_rows([(i, len(examples[i]["input_ids"])) for i in order], max_length)]
    else:
        buckets = bucket_sizes(max_length)
        rows = [(next(b for b in buckets if len(examples[i]["input_ids"]) <= b), [i]) for i in order]
    by_length = {}
    for length, ids in rows:
        by_length.setdefault(length, []).append(ids)
    batches = []
    for length, group in by_length.items():
        for s in range(0, len(group), batch_size):
            batches.append(build_batch(examples, group[s : s + batch_size], batch_size, length, pad_id, packing))
    if shuffle:
        shuffle_in_place(batches, random)
    else:
        batches.sort(key=lambda b: b["example_ids"][0])
    return batches


def build_batch(examples, rows, batch_size, seq_len, pad_id, packing):
    input_ids = [[pad_id] * seq_len for _ in range(batch_size)]
    targets = [[-1] * seq_len for _ in range(batch_size)]
    attention = [[0] * seq_len for _ in range(batch_size)]
    positions = [[0] * seq_len for _ in range(batch_size)]
    trained, example_ids = 0, []
    for r, row in enumerate(rows):
        col = 0
        for i in row:
            ids, mask = examples[i]["input_ids"], examples[i]["loss_mask"]
            for t in range(len(ids)):
                input_ids[r][col + t] = ids[t]
                attention[r][col + t] = 1
                positions[r][col + t] = t
                # Position t predicts token t+1; an example's last token predicts nothing.
                if t + 1 < len(ids) and mask[t + 1] == 1:
                    targets[r][col + t] = ids[t + 1]
                    trained += 1
            col += len(ids)
            example_ids.append(i)
    batch = {"input_ids": input_ids, "targets": targets, "attention_mask": attention, "seq_len": seq_len, "trained_tokens": trained, "example_ids": example_ids}
    if packing:
        batch["position_ids"] = positions
    return batch


def epoch_batches(train, o, pad_id, epoch):
    return make_batches(train, o["batchSize"], o["maxLength"], pad_id, o["seed"] * 1000 + epoch, o["shuffle"], o.get("packing", False))


def plan_run(train, o, pad_id):
    steps_per_epoch = -(-len(epoch_batches(train, o, pad_id, 0)) // max(1, o["gradAccum"]))
    by_epochs = steps_per_epoch * o["epochs"]
    total = min(o["maxSteps"], by_epochs) if o.get("maxSteps") else by_epochs
    return steps_per_epoch, total


def effective_warmup(warmup, total_steps):
    # Math.round, as WebLoRA rounds (Python's round() goes to even).
    return max(1, math.floor(total_steps / 10 + 0.5)) if 0 < warmup and warmup >= total_steps else warmup


def learning_rate(step, base, warmup, total, kind):
    """transformers' get_*_schedule_with_warmup; "step" counts optimizer steps done."""
    if step < warmup:
        return base * step / max(1, warmup)
    if kind == "constant":
        return base
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "linear":
        return base * max(0.0, 1 - progress)
    return base * max(0.0, 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def evals_between(start, end, total, every):
    periodic = end // every - start // every if every > 0 else 0
    last = 1 if start < total <= end and not (every > 0 and total % every == 0) else 0
    return periodic + last


def shares(items, world, rank):
    """Process "rank"'s share of a step's micro-batches (or an evaluation's batches), as (item,
    weight, last): every process runs as many passes as the others, which DDP's gradient sync and
    FSDP's gathers need; a slot past the end repeats the first item with weight 0."""
    slots = -(-len(items) // world)
    for s in range(slots):
        k = s * world + rank
        yield (items[k], 1.0, s == slots - 1) if k < len(items) else (items[0], 0.0, s == slots - 1)


def lora_a_values(shapes, seed):
    """WebLoRA's A initialisation (PEFT's bound 1/sqrt(in)) from its seed, module by module in WebLoRA's order."""
    random = mulberry32((seed ^ 0x5EED) & 0xFFFFFFFF)
    out = []
    for r, fan_in in shapes:
        bound = 1 / math.sqrt(fan_in)
        out.append([(random() * 2 - 1) * bound for _ in range(r * fan_in)])
    return out


def module_order(path):
    """(layer, module index) of "...model.layers.<i>.<parent>.<module>": WebLoRA's adapter order."""
    parts = path.split(".")
    i = parts.index("layers")
    return int(parts[i + 1]), LINEAR_MODULES.index(parts[-1])


# --- The job's files.

def read_job(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_records(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as e:
                    sys.exit(f"{path}:{n}: not a JSON object ({e})")
    return records


def prepare(job, records, tok):
    """Train and validation examples, as WebLoRA made them."""
    examples, dropped, eos_text = build_examples(records, tok, job["data"])
    train = [e for e in examples if e["split"] == "train"]
    val = [e for e in examples if e["split"] == "val"]
    return train, val, dropped, eos_text


def dump_batches(job, records, tok, pad_id, path):
    """Tokenised examples, loss masks and the first epoch's batches as JSON (no torch needed)."""
    train, val, dropped, eos_text = prepare(job, records, tok)
    o = job["training"]
    steps_per_epoch, total = plan_run(train, o, pad_id)
    strip = lambda e: {"source": e["source"], "split": e["split"], "input_ids": e["input_ids"], "loss_mask": e["loss_mask"]}
    out = {
        "template": job["data"]["template"],
        "eos_text": eos_text,
        "pad_id": pad_id,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total,
        "train": [strip(e) for e in train],
        "val": [strip(e) for e in val],
        "dropped": dropped,
        "epoch0_batches": [{"example_ids": b["example_ids"], "seq_len": b["seq_len"], "trained_tokens": b["trained_tokens"]} for b in epoch_batches(train, o, pad_id, 0)],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f)
    return out


def check_tokens(job, train, val, pad_id, strict):
    """Whether this tokenizer tokenises the job's first examples as WebLoRA did; stops when not and
    "strict" (the job's own model), else says so (another model, its own tokens)."""
    def differ(message):
        if strict:
            sys.exit(message + " Use the same tokenizer files, or pass --model to train a different model on purpose.")
        print("note: " + message + " (expected with another model's tokenizer)", file=sys.stderr)
        return False

    if pad_id != job["training"]["padId"]:
        return differ(f"this tokenizer pads with id {pad_id}, WebLoRA's with {job['training']['padId']}.")
    for want in job.get("token_check", []):
        side = train if want["split"] == "train" else val
        got = next((e for e in side if e["source"] == want["source"]), None)
        if got is None or got["input_ids"] != want["input_ids"] or got["loss_mask"] != want["loss_mask"]:
            where = f"{want['source']['file']}:{want['source']['line']}"
            return differ(
                f"{where}: this tokenizer does not give the tokens and loss mask WebLoRA trained on "
                f"(WebLoRA: {want['input_ids'][:12]}..., here: {got['input_ids'][:12] if got else 'no example'}...)."
            )
    return True


def write_log(out_dir, header, status, records):
    """train_log.json as WebLoRA's CLI writes it (src/cli/train/log.ts): one record per line."""
    steps = [r for r in records if r["type"] == "step"]
    body = dict({"format": "weblora-train-log", "version": 1, "status": status, "steps_done": steps[-1]["step"] if steps else 0}, **header)
    head = json.dumps(dict(body, records=[]), indent=2, ensure_ascii=False)
    if records:
        lines = ",\n".join("    " + json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in records)
        head = head[: head.rindex('"records": []')] + '"records": [\n' + lines + "\n  ]\n}"
    path = os.path.join(out_dir, "train_log.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(head + "\n")
    os.replace(path + ".tmp", path)


class HFTokenizer:
    """The tokenizer interface the formatting code above uses, over a transformers tokenizer."""

    def __init__(self, tok):
        self.tok = tok
        self.eos_token_id = tok.eos_token_id
        self.pad_token_id = tok.pad_token_id

    def encode(self, text, add_special_tokens=True):
        return self.tok.encode(text, add_special_tokens=add_special_tokens)

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=False)

    def apply_chat_template(self, messages, add_generation_prompt=False):
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def pad_id_of(tok):
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    if pad is None:
        sys.exit("the tokenizer has neither a pad nor an EOS token")
    return pad


# --- Training (torch from here on).

def train(args, job, records):
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    acc = Accelerator()
    model_id = args.model or job["model"]["name"]
    tok = HFTokenizer(AutoTokenizer.from_pretrained(model_id))
    pad_id = pad_id_of(tok)
    train_set, val_set, dropped, _ = prepare(job, records, tok)
    if not train_set:
        sys.exit("no training examples")
    if check_tokens(job, train_set, val_set, pad_id, strict=not args.model):
        acc.print("tokens: the first examples are WebLoRA's, token for token")
    o = job["training"]
    steps_per_epoch, total = plan_run(train_set, o, pad_id)
    warmup = effective_warmup(o["warmupSteps"], total)
    world, rank = acc.num_processes, acc.process_index

    torch.manual_seed(o["seed"])
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    model = AutoModelForCausalLM.from_pretrained(model_id, torch_dtype=dtype, attn_implementation=args.attn)
    lora = job["lora"]
    model = get_peft_model(
        model,
        LoraConfig(
            r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], use_rslora=lora["useRslora"],
            target_modules=lora["targetModules"], bias="none", task_type="CAUSAL_LM",
            # PEFT's per-module ranks and layer choice, when the run's adapter has them.
            **{py: lora[js] for js, py in (("rankPattern", "rank_pattern"), ("alphaPattern", "alpha_pattern"), ("layersToTransform", "layers_to_transform")) if lora.get(js)},
        ),
    )
    adapted = sorted(((n, m) for n, m in model.named_modules() if hasattr(m, "lora_A") and "default" in m.lora_A), key=lambda nm: module_order(nm[0]))
    with torch.no_grad():
        shapes = [(m.lora_A["default"].weight.shape[0], m.lora_A["default"].weight.shape[1]) for _, m in adapted]
        for (_, m), values in zip(adapted, lora_a_values(shapes, o["seed"])):
            w = m.lora_A["default"].weight
            w.copy_(torch.tensor(values, dtype=torch.float32).view(w.shape).to(w.dtype))
            m.lora_B["default"].weight.zero_()
    params = [p for p in model.parameters() if p.requires_grad]
    adamw = job["adamw"]
    optimizer = torch.optim.AdamW(params, lr=o["learningRate"], betas=(adamw["beta1"], adamw["beta2"]), eps=adamw["eps"], weight_decay=o["weightDecay"])
    model, optimizer = acc.prepare(model, optimizer)
    device = acc.device

    def tensors(b):
        t = lambda x: torch.tensor(x, dtype=torch.long, device=device)
        return t(b["input_ids"]), t(b["targets"]), t(b["attention_mask"]), (t(b["position_ids"]) if "position_ids" in b else None)

    def summed_loss(b):
        ids, targets, mask, positions = tensors(b)
        logits = model(input_ids=ids, attention_mask=mask, **({"position_ids": positions} if positions is not None else {})).logits
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1, reduction="sum")

    def evaluate():
        model.eval()
        total_loss = torch.zeros((), device=device, dtype=torch.float64)
        batches = make_batches(val_set, o["batchSize"], o["maxLength"], pad_id, shuffle=False)
        count = sum(b["trained_tokens"] for b in batches)
        with torch.no_grad():
            for b, weight, _ in shares(batches, world, rank):
                total_loss += summed_loss(b).double() * weight
        model.train()
        return (acc.reduce(total_loss, "sum").item() / count) if count else float("nan")

    out = args.out
    os.makedirs(out, exist_ok=True)
    header = {
        "model": model_id,
        "data": job["data"]["file"],
        "backend": f"torch-{device.type}" + (f" x{world}" if world > 1 else ""),
        "kernels": "transformers",
        "template": job["data"]["template"],
        "lora": lora,
        "options": o,
        "total_steps": total,
        "data_report": job["data_report"],
    }
    records_log = []
    step, elapsed_before = 0, 0.0
    checkpoint = os.path.join(out, "checkpoint")
    if args.resume and os.path.exists(os.path.join(checkpoint, "weblora_state.json")):
        acc.load_state(checkpoint)
        with open(os.path.join(checkpoint, "weblora_state.json"), encoding="utf-8") as f:
            state = json.load(f)
        step, records_log, elapsed_before = state["step"], state["records"], state["elapsed_ms"]
        acc.print(f"resuming at step {step} of {total} from {checkpoint}")
    elif os.path.exists(os.path.join(checkpoint, "weblora_state.json")):  # every process stops, none waits
        sys.exit(f"{checkpoint} holds the checkpoint of an unfinished run: add --resume to continue it, or delete that folder to start over")

    acc.print(f"training: {len(train_set)} examples ({len(val_set)} held out, {len(dropped)} dropped), {total} steps on {world} process(es)")
    if val_set and step == 0 and job["evalBase"]:
        v = evaluate()
        records_log.append({"type": "eval", "step": 0, "val_loss": v, "val_perplexity": math.exp(v)})
        acc.print(f"eval at step 0: val loss {v:.4f}")
    cached = {}
    started = time.time()
    model.train()
    while step < total:
        t0 = time.time()
        epoch = step // steps_per_epoch
        if epoch not in cached:
            cached.clear()
            cached[epoch] = epoch_batches(train_set, o, pad_id, epoch)
        first = (step % steps_per_epoch) * o["gradAccum"]
        micro = cached[epoch][first : first + o["gradAccum"]]
        trained = sum(b["trained_tokens"] for b in micro)
        lr = learning_rate(step, o["learningRate"], warmup, total, o["schedule"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        # The step's micro-batches are shared out over the processes; DDP and FSDP average
        # gradients over processes, hence the factor "world" on Σ token losses / Σ trained tokens.
        step_loss = torch.zeros((), device=device, dtype=torch.float64)
        for b, weight, last in shares(micro, world, rank):
            with acc.no_sync(model) if not last else contextlib.nullcontext():
                loss = summed_loss(b) / max(1, trained)
                acc.backward(loss * (weight * world))
            step_loss += loss.detach().double() * weight
        # All of the model's parameters (the frozen ones have no gradient): under FSDP accelerate
        # then clips with the sharded model's own global norm, not one shard's.
        norm = acc.clip_grad_norm_(model.parameters(), o["maxGradNorm"] if o["maxGradNorm"] > 0 else float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        step_loss = acc.reduce(step_loss, "sum").item()
        dt = time.time() - t0
        tokens = sum(sum(map(sum, b["attention_mask"])) for b in micro)
        records_log.append({
            "type": "step", "step": step, "epoch": (step - 1) // steps_per_epoch + 1, "loss": step_loss, "lr": lr,
            "grad_norm": float(norm), "tokens": tokens, "trained_tokens": trained, "tokens_per_sec": tokens / max(dt, 1e-9),
            "elapsed_ms": elapsed_before + (time.time() - started) * 1000,
        })
        acc.print(f"step {step}/{total}  epoch {records_log[-1]['epoch']}  loss {step_loss:.4f}  lr {lr:.2e}  grad {float(norm):.3f}")
        if val_set and evals_between(step - 1, step, total, o["evalEvery"]) > 0:
            v = evaluate()
            records_log.append({"type": "eval", "step": step, "val_loss": v, "val_perplexity": math.exp(v)})
            acc.print(f"eval at step {step}: val loss {v:.4f}")
        if o.get("checkpointEvery") and step % o["checkpointEvery"] == 0 and step < total:
            acc.save_state(checkpoint)
            if acc.is_main_process:
                with open(os.path.join(checkpoint, "weblora_state.json"), "w", encoding="utf-8") as f:
                    json.dump({"step": step, "records": records_log, "elapsed_ms": records_log[-1]["elapsed_ms"] if records_log else 0}, f)
                write_log(out, header, "running", records_log)

    acc.wait_for_everyone()
    unwrapped = acc.unwrap_model(model)
    unwrapped.save_pretrained(out, state_dict=acc.get_state_dict(model), is_main_process=acc.is_main_process, safe_serialization=True)
    if acc.is_main_process:
        write_log(out, header, "done", records_log)
        if os.path.exists(os.path.join(checkpoint, "weblora_state.json")):
            import shutil

            shutil.rmtree(checkpoint)
    acc.print(f"saved the adapter (adapter_config.json, adapter_model.safetensors) and train_log.json to {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description="WebLoRA's run as a transformers + peft job (see README.md).")
    p.add_argument("--job", default=os.path.join(HERE, "job.json"), help="the run's definition (default: job.json beside this script)")
    p.add_argument("--data", default=None, help="the dataset (default: the job's data/dataset.jsonl)")
    p.add_argument("--model", default=None, help="a Hugging Face model id or folder: the job's model where it is not the hub id job.json names (a folder), or a bigger model of the same family (same template; tokens are made by its tokenizer)")
    p.add_argument("--out", default=os.path.join(HERE, "output"), help="where the adapter and train_log.json go (default: output/)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="the base model's weights (WebLoRA trains in float32; bfloat16 for big models: the LoRA weights stay float32)")
    p.add_argument("--attn", default="sdpa", choices=["sdpa", "eager", "flash_attention_2"], help="attention implementation (flash_attention_2 treats packed rows differently from WebLoRA)")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint (written every training.checkpoint_every steps)")
    p.add_argument("--dump-batches", metavar="FILE", default=None, help="write the tokenised examples, loss masks and first epoch's batches as JSON, then stop (no torch needed)")
    args = p.parse_args(argv)
    job = read_job(args.job)
    records = read_records(args.data or os.path.join(os.path.dirname(os.path.abspath(args.job)), job["data"]["path"]))
    if args.dump_batches:
        from transformers import AutoTokenizer

        tok = HFTokenizer(AutoTokenizer.from_pretrained(args.model or job["model"]["name"]))
        dump_batches(job, records, tok, pad_id_of(tok), args.dump_batches)
        return
    train(args, job, records)


if __name__ == "__main__":
    main()
`;
