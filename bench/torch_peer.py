#!/usr/bin/env python3
"""PyTorch peer of `npm run bench`: the same model shapes, LoRA settings and batch, on a CUDA GPU.

Builds LlamaForCausalLM / Qwen2ForCausalLM / Gemma3ForCausalLM from bench/model-configs.json (the configs the
TypeScript benchmark uses) with random init when `transformers` is installed, else a plain torch
Llama-family decoder defined below; adds LoRA (rank 16, alpha 32, dropout 0) on every linear layer
of the decoder with PEFT when installed, else a plain torch LoRA; trains with AdamW (PyTorch
defaults, weight decay 0) and global-norm clipping at 1.0, as WebLoRA's trainer does, on synthetic
sequences of exactly --seq tokens, every token after the first a target.

Two rows per model: float32 with TF32 off, and float32 weights under bf16 autocast. Each row
reports the same figures, in the same JSON schema (weblora-bench/1, bench/lib/schema.ts), as the
TypeScript runners: training tokens/s and median step time (forward + backward + optimizer,
synchronised by reading the loss back, as the engine does), model FLOP/s and MFU by the formula
of bench/lib/flops.ts (repeated below), peak memory (torch.cuda.max_memory_allocated), CUDA
kernels per training step (torch.profiler, the counterpart of WebGPU dispatches), and greedy
generation with the KV cache (prefill of --prompt tokens, --new-tokens tokens).

    python3 bench/torch_peer.py --models smollm2-135m --peak-tflops 67 --peak-tflops-bf16 989 \
        --out bench/results/torch-h100.json

Needs torch with CUDA (runs on CPU with --device cpu, slowly, for checking the script).
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA = "weblora-bench/1"
LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MODEL_IDS = ["stories260K", "smollm2-135m", "smollm2-360m", "qwen2.5-0.5b", "gemma3-270m"]

try:  # Optional: everything but the model and LoRA construction is plain torch.
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - reported in main()
    torch = None  # type: ignore[assignment]


# ----------------------------------------------------------------------------- configs and FLOPs


def load_model_configs(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Shapes:
    """The fields of a Hugging Face config.json that decide the shapes (as config.ts reads them)."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.model_type = raw["model_type"]
        self.hidden = int(raw["hidden_size"])
        self.intermediate = int(raw["intermediate_size"])
        self.layers = int(raw["num_hidden_layers"])
        self.heads = int(raw["num_attention_heads"])
        self.kv_heads = int(raw.get("num_key_value_heads") or self.heads)
        self.head_dim = int(raw.get("head_dim") or self.hidden // self.heads)
        self.vocab = int(raw["vocab_size"])
        self.eps = float(raw.get("rms_norm_eps", 1e-6))
        self.theta = float(raw.get("rope_theta", 10000.0))
        self.gemma3 = self.model_type.startswith("gemma3")
        # Gemma3TextConfig ties by default; it norms each sublayer's input and output, and q and k.
        self.tied = bool(raw.get("tie_word_embeddings", self.gemma3))
        self.norms = 4 if self.gemma3 else 2
        self.qk_norm = self.gemma3 or self.model_type == "qwen3"
        self.qkv_bias = self.model_type == "qwen2" or raw.get("attention_bias") is True
        self.o_bias = self.model_type != "qwen2" and raw.get("attention_bias") is True
        self.mlp_bias = raw.get("mlp_bias") is True

    def linear_shapes(self) -> dict:
        """[out, in] of each linear module of one layer."""
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        h, f = self.hidden, self.intermediate
        return {
            "q_proj": (q, h),
            "k_proj": (kv, h),
            "v_proj": (kv, h),
            "o_proj": (h, q),
            "gate_proj": (f, h),
            "up_proj": (f, h),
            "down_proj": (h, f),
        }

    def parameter_count(self) -> int:
        """Base-model parameters, tied embeddings counted once (parameterCount in config.ts)."""
        n = self.vocab * self.hidden + self.hidden  # embeddings, final norm
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        for name, (o, i) in self.linear_shapes().items():
            n += self.layers * o * i
        n += self.layers * self.norms * self.hidden  # the norms of each layer
        if self.qk_norm:
            n += self.layers * 2 * self.head_dim
        if self.qkv_bias:
            n += self.layers * (q + 2 * kv)
        if self.o_bias:
            n += self.layers * self.hidden
        if self.mlp_bias:
            n += self.layers * (2 * self.intermediate + self.hidden)
        if not self.tied:
            n += self.vocab * self.hidden
        return n


def training_flops(s: Shapes, seq: int, batch: int, rank: int, targets=LINEAR) -> dict:
    """Model FLOPs of one LoRA training step: the formula of bench/lib/flops.ts.

    Per trained token at context T (multiply-add = 2 FLOPs; element-wise work left out):
      forward  matmuls    2 * N_matmul      N_matmul = L * sum(out*in over linears) + V*H (lm_head)
      backward matmuls    2 * N_matmul      activation gradients only: the weights are frozen
      forward  attention  4 * L * nH * d * T   QK^T and P.V over the full T x T square
      backward attention  8 * L * nH * d * T
      forward  LoRA       2 * r * sum(in + out over adapted linears)
      backward LoRA       4 * r * sum(in + out)   input grads plus the A and B weight grads
    per step = B*T * (per token - 4*V*H) + B*(T-1) * 4*V*H
      (the decoder runs on all B*T tokens; the head only on the B*(T-1) positions with a target)
    """
    body = 0
    lora_in_out = 0
    for name, (o, i) in s.linear_shapes().items():
        body += s.layers * o * i
        if name in targets:
            lora_in_out += s.layers * (i + o)
    head = s.vocab * s.hidden
    matmul = body + head
    attn = s.layers * s.heads * s.head_dim * seq
    breakdown = {
        "matmulForward": 2 * matmul,
        "matmulBackward": 2 * matmul,
        "attentionForward": 4 * attn,
        "attentionBackward": 8 * attn,
        "loraForward": 2 * rank * lora_in_out,
        "loraBackward": 4 * rank * lora_in_out,
    }
    per_token = sum(breakdown.values())
    tokens = batch * seq
    trained = batch * (seq - 1)
    return {
        "matmulParams": matmul,
        "headParams": head,
        "loraParams": rank * lora_in_out,
        "perTokenBreakdown": breakdown,
        "perTrainedToken": per_token,
        "perStep": tokens * (per_token - 4 * head) + trained * 4 * head,
        "tokensPerStep": tokens,
        "trainedTokensPerStep": trained,
    }


# ----------------------------------------------------------------------------- plain torch model

if torch is not None:

    class RMSNorm(nn.Module):
        def __init__(self, dim: int, eps: float):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))
            self.eps = eps

        def forward(self, x):
            dtype = x.dtype
            x = x.float()
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
            return self.weight * x.to(dtype)

    def rotate_half(x):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)

    class PlainAttention(nn.Module):
        def __init__(self, s: Shapes, sdpa: bool):
            super().__init__()
            self.s = s
            self.sdpa = sdpa
            q, kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
            self.q_proj = nn.Linear(s.hidden, q, bias=s.qkv_bias)
            self.k_proj = nn.Linear(s.hidden, kv, bias=s.qkv_bias)
            self.v_proj = nn.Linear(s.hidden, kv, bias=s.qkv_bias)
            self.o_proj = nn.Linear(q, s.hidden, bias=s.o_bias)

        def forward(self, x, cos, sin, past=None):
            s = self.s
            b, t, _ = x.shape
            q = self.q_proj(x).view(b, t, s.heads, s.head_dim).transpose(1, 2)
            k = self.k_proj(x).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
            v = self.v_proj(x).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if past is not None:
                k = torch.cat([past[0], k], dim=2)
                v = torch.cat([past[1], v], dim=2)
            present = (k, v)
            groups = s.heads // s.kv_heads
            kk = k.repeat_interleave(groups, dim=1)
            vv = v.repeat_interleave(groups, dim=1)
            causal = past is None and t > 1
            if self.sdpa:
                out = F.scaled_dot_product_attention(q, kk, vv, is_causal=causal)
            else:
                scores = (q @ kk.transpose(-1, -2)) / math.sqrt(s.head_dim)
                if causal:
                    mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
                    scores = scores.masked_fill(mask, float("-inf"))
                out = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ vv
            out = out.transpose(1, 2).reshape(b, t, s.heads * s.head_dim)
            return self.o_proj(out), present

    class PlainMLP(nn.Module):
        def __init__(self, s: Shapes):
            super().__init__()
            self.gate_proj = nn.Linear(s.hidden, s.intermediate, bias=s.mlp_bias)
            self.up_proj = nn.Linear(s.hidden, s.intermediate, bias=s.mlp_bias)
            self.down_proj = nn.Linear(s.intermediate, s.hidden, bias=s.mlp_bias)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class PlainLayer(nn.Module):
        def __init__(self, s: Shapes, sdpa: bool):
            super().__init__()
            self.input_layernorm = RMSNorm(s.hidden, s.eps)
            self.self_attn = PlainAttention(s, sdpa)
            self.post_attention_layernorm = RMSNorm(s.hidden, s.eps)
            self.mlp = PlainMLP(s)

        def forward(self, x, cos, sin, past=None):
            a, present = self.self_attn(self.input_layernorm(x), cos, sin, past)
            x = x + a
            return x + self.mlp(self.post_attention_layernorm(x)), present

    class PlainDecoder(nn.Module):
        def __init__(self, s: Shapes, sdpa: bool):
            super().__init__()
            self.s = s
            self.embed_tokens = nn.Embedding(s.vocab, s.hidden)
            self.layers = nn.ModuleList([PlainLayer(s, sdpa) for _ in range(s.layers)])
            self.norm = RMSNorm(s.hidden, s.eps)
            inv = 1.0 / (s.theta ** (torch.arange(0, s.head_dim, 2, dtype=torch.float64) / s.head_dim))
            self.register_buffer("inv_freq", inv.float(), persistent=False)

        def forward(self, input_ids, past=None):
            b, t = input_ids.shape
            start = 0 if past is None else past[0][0].shape[2]
            pos = torch.arange(start, start + t, device=input_ids.device, dtype=torch.float32)
            freqs = torch.outer(pos, self.inv_freq)
            emb = torch.cat([freqs, freqs], dim=-1)
            cos, sin = emb.cos()[None, None], emb.sin()[None, None]
            h = self.embed_tokens(input_ids)
            cos, sin = cos.to(h.dtype), sin.to(h.dtype)
            presents = []
            for i, layer in enumerate(self.layers):
                h, present = layer(h, cos, sin, None if past is None else past[i])
                presents.append(present)
            return self.norm(h), presents

    class PlainCausalLM(nn.Module):
        """A Llama-family decoder with HF module names (model.layers.N.self_attn.q_proj, ...)."""

        def __init__(self, s: Shapes, sdpa: bool):
            super().__init__()
            self.model = PlainDecoder(s, sdpa)
            self.lm_head = nn.Linear(s.hidden, s.vocab, bias=False)
            if s.tied:
                self.lm_head.weight = self.model.embed_tokens.weight
            std = float(s.raw.get("initializer_range", 0.02))
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, 0.0, std)
                    if isinstance(m, nn.Linear) and m.bias is not None:
                        nn.init.zeros_(m.bias)

    class LoRALinear(nn.Module):
        """y = base(x) + s * (x A^T) B^T with A kaiming-uniform (bound 1/sqrt(in)), B zero (PEFT's init)."""

        def __init__(self, base: nn.Linear, r: int, alpha: float):
            super().__init__()
            self.base = base
            self.scaling = alpha / r
            self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=base.weight.device))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=base.weight.device))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

        def forward(self, x):
            return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling

    def plain_lora(model: nn.Module, r: int, alpha: float) -> nn.Module:
        for p in model.parameters():
            p.requires_grad_(False)
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if name in LINEAR and isinstance(child, nn.Linear):
                    setattr(parent, name, LoRALinear(child, r, alpha))
        return model


# ----------------------------------------------------------------------------- model construction


class Built:
    """A trainable model with a uniform interface over the transformers+PEFT and plain paths."""

    def __init__(self, model, decoder, lm_head, impl: str, hf: bool):
        self.model = model
        self.decoder = decoder
        self.lm_head = lm_head
        self.impl = impl
        self.hf = hf

    def hidden(self, input_ids):
        if self.hf:
            return self.decoder(input_ids=input_ids, use_cache=False).last_hidden_state
        return self.decoder(input_ids)[0]

    def step_logits(self, input_ids, past):
        """Logits of the last position and the new cache (generation)."""
        # The head only on the last position, as the engine's generate does.
        if self.hf:
            out = self.decoder(input_ids=input_ids, past_key_values=past, use_cache=True)
            return self.lm_head(out.last_hidden_state[:, -1, :]), out.past_key_values
        hidden, presents = self.decoder(input_ids, past)
        return self.lm_head(hidden[:, -1, :]), presents


def build(raw: dict, args, device) -> Built:
    s = Shapes(raw)
    raw = {k: v for k, v in raw.items() if k not in ("architectures", "torch_dtype", "transformers_version")}
    use_hf = args.impl in ("auto", "hf")
    model = None
    impl = "plain torch"
    if use_hf:
        try:
            import transformers
            from transformers import AutoConfig, AutoModelForCausalLM

            cfg = AutoConfig.for_model(raw["model_type"], **{k: v for k, v in raw.items() if k != "model_type"})
            model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.float32, attn_implementation=args.attn)
            impl = f"transformers {transformers.__version__} ({args.attn} attention)"
        except ImportError:
            if args.impl == "hf":
                raise
    if model is None:
        if raw["model_type"].startswith("gemma3"):
            # PlainCausalLM is the Llama family only: it would time another model under Gemma's name.
            raise SystemExit(f"{raw['model_type']}: the plain torch decoder is Llama-family only; install transformers")
        model = PlainCausalLM(s, sdpa=args.attn == "sdpa")
        impl = f"plain torch ({args.attn} attention)"
    model = model.to(device)
    hf = not isinstance(model, PlainCausalLM)

    peft_model = None
    if args.impl in ("auto", "hf"):
        try:
            import peft
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=args.rank,
                lora_alpha=args.alpha,
                lora_dropout=0.0,
                target_modules=list(LINEAR),
                bias="none",
                task_type="CAUSAL_LM",
            )
            peft_model = get_peft_model(model, config)
            impl += f" + peft {peft.__version__}"
        except ImportError:
            if args.impl == "hf":
                raise
    if peft_model is None:
        plain_lora(model, args.rank, args.alpha)
        impl += " + plain torch LoRA"
        top = model
    else:
        top = peft_model
    # PEFT injects its LoRA layers in place, so the base model's own decoder and head include them.
    base = peft_model.get_base_model() if peft_model is not None else model
    return Built(top, base.model, base.lm_head, impl, hf)


# ----------------------------------------------------------------------------- measurement


def synthetic_batches(vocab: int, seq: int, batch: int, count: int, device, seed: int = 7):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (batch, seq), generator=g).to(device) for _ in range(count)]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(built: Built, params, opt, ids, autocast_ctx):
    """Forward + masked CE (mean over the B*(T-1) targets, head only on those rows) + backward + clip + AdamW."""
    with autocast_ctx():
        hidden = built.hidden(ids)
        logits = built.lm_head(hidden[:, :-1, :])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()  # the engine's step ends when its loss is on the host; so does this one


def count_cuda_kernels(fn) -> int | None:
    """CUDA kernels launched by fn(), by torch.profiler (memcpy/memset left out)."""
    try:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        n = 0
        for e in prof.events():
            if e.device_type == torch.autograd.DeviceType.CUDA and not e.name.lower().startswith(("memcpy", "memset")):
                n += 1
        return n
    except Exception as e:  # noqa: BLE001 - a missing figure, not a failed row
        print(f"  (kernel count unavailable: {e})", file=sys.stderr)
        return None


@torch.no_grad() if torch is not None else (lambda f: f)
def generate_greedy(built: Built, prompt, new_tokens: int, autocast_ctx, device):
    """Prefill, then new_tokens - 1 single-token steps with the KV cache; each token read back."""
    t0 = time.perf_counter()
    with autocast_ctx():
        logits, past = built.step_logits(prompt, None)
    token = int(torch.argmax(logits[0]).item())
    prefill = time.perf_counter() - t0
    ids = [token]
    t1 = time.perf_counter()
    for _ in range(new_tokens - 1):
        x = torch.tensor([[token]], device=device)
        with autocast_ctx():
            logits, past = built.step_logits(x, past)
        token = int(torch.argmax(logits[0]).item())
        ids.append(token)
    decode = time.perf_counter() - t1
    return prefill, decode, len(ids)


def run_row(model_id: str, raw: dict, variant: str, args, device) -> dict:
    s = Shapes(raw)
    shape = {"seq": args.seq, "batch": args.batch, "rank": args.rank, "alpha": args.alpha, "targets": list(LINEAR)}
    row = {"model": model_id, "backend": f"torch-{device.type}", "variant": variant, "status": "ok", "shape": shape, "seconds": 0.0}
    t_start = time.perf_counter()
    built = None
    gc.collect()
    try:
        torch.manual_seed(0)
        built = build(raw, args, device)
        row["impl"] = built.impl
        flops = training_flops(s, args.seq, args.batch, args.rank)
        row["params"] = {"total": s.parameter_count(), "matmul": flops["matmulParams"], "lora": flops["loraParams"]}
        row["flops"] = {k: flops[k] for k in ("perTrainedToken", "perStep", "perTokenBreakdown")}
        params = [p for p in built.model.parameters() if p.requires_grad]
        lora_count = sum(p.numel() for p in params)
        if lora_count != flops["loraParams"]:
            print(f"  warning: {lora_count} trainable parameters, the formula counts {flops['loraParams']}", file=sys.stderr)
        opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        bf16 = variant == "bf16-autocast"

        def autocast_ctx():
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)

        built.model.train()
        total = args.warmup + args.steps
        batches = synthetic_batches(s.vocab, args.seq, args.batch, total + 1, device)
        losses, step_ms = [], []
        for i in range(args.warmup):
            losses.append(train_step(built, params, opt, batches[i], autocast_ctx))
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
        for i in range(args.warmup, total):
            t0 = time.perf_counter()
            losses.append(train_step(built, params, opt, batches[i], autocast_ctx))
            sync(device)
            step_ms.append((time.perf_counter() - t0) * 1000)
            print(f"  step {i + 1}/{total}: {step_ms[-1]:.1f} ms, loss {losses[-1]:.4f}", file=sys.stderr)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
        med = statistics.median(step_ms)
        tflops = flops["perStep"] / (med / 1000) / 1e12
        peak_tflops = args.peak_tflops_bf16 if bf16 else args.peak_tflops
        row["train"] = {
            "warmupSteps": args.warmup,
            "steps": args.steps,
            "stepMs": step_ms,
            "stepMsMedian": med,
            "tokensPerStep": flops["tokensPerStep"],
            "trainedTokensPerStep": flops["trainedTokensPerStep"],
            "tokensPerSec": flops["tokensPerStep"] / med * 1000,
            "tflops": tflops,
            "mfu": tflops / peak_tflops if peak_tflops else None,
            "firstLoss": losses[0],
            "lastLoss": losses[-1],
        }
        if device.type == "cuda":
            row["memory"] = {"peakBytes": peak, "baselineBytes": baseline, "stepPeakBytes": peak - baseline, "stepPeakBufferBytes": peak - baseline}
        kernels = None
        if device.type == "cuda" and not args.no_kernel_count:
            kernels = count_cuda_kernels(lambda: train_step(built, params, opt, batches[total], autocast_ctx))
        row["counts"] = {
            "dispatchesPerStep": kernels,
            "submitsPerStep": None,
            "dispatchesEachStep": None,
            "tfKernelsPerStep": None,
        }
        print(f"{model_id} / {variant}: {med:.1f} ms/step, {row['train']['tokensPerSec']:.0f} tok/s, {tflops:.2f} TFLOP/s", file=sys.stderr)

        if not args.no_generate:
            built.model.eval()
            g = torch.Generator().manual_seed(11)
            prompt = torch.randint(0, s.vocab, (1, args.prompt), generator=g).to(device)
            generate_greedy(built, prompt, args.new_tokens, autocast_ctx, device)  # warm-up
            prefill, decode, made = generate_greedy(built, prompt, args.new_tokens, autocast_ctx, device)
            row["generate"] = {
                "promptTokens": args.prompt,
                "newTokens": made,
                "prefillMs": prefill * 1000,
                "prefillTokensPerSec": args.prompt / prefill,
                "decodeMs": decode * 1000,
                "decodeTokensPerSec": (made - 1) / decode if made > 1 else 0.0,
                "prefillDispatches": None,
                "dispatchesPerDecodedToken": None,
            }
    except Exception as e:  # noqa: BLE001 - one failed row (say, out of memory) must not end the run
        row["status"] = "error"
        row["error"] = f"{type(e).__name__}: {e}"
        print(f"{model_id} / {variant}: error: {row['error']}", file=sys.stderr)
    finally:
        del built
        if device.type == "cuda":
            torch.cuda.empty_cache()
        row["seconds"] = time.perf_counter() - t_start
    return row


# ----------------------------------------------------------------------------- report


def git_info() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE.parent, capture_output=True, text=True, check=True).stdout.strip()
        dirty = bool(
            subprocess.run(["git", "status", "--porcelain", "--", ".", ":!bench/results"], cwd=HERE.parent, capture_output=True, text=True, check=True).stdout.strip()
        )
        return {"commit": commit, "dirty": dirty}
    except Exception:  # noqa: BLE001 - a copy without git
        return {"commit": None, "dirty": None}


def machine_info() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "os": f"{platform.system()} {platform.release()} {platform.machine()}"}
    try:
        info["loadAverage"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def fmt(x, digits=1):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{round(x):,}"
    return f"{x:.{digits}f}"


def print_table(rows):
    cols = ["model", "backend", "variant", "B×T r", "train tok/s", "step ms", "TFLOP/s", "MFU", "peak MiB", "step MiB", "kernels/step", "prefill tok/s", "decode tok/s"]
    lines = []
    for r in rows:
        shape = f"{r['shape']['batch']}×{r['shape']['seq']} r{r['shape']['rank']}"
        if r["status"] != "ok":
            lines.append([r["model"], r["backend"], r["variant"], shape, f"{r['status']}: {r.get('error', '')}"])
            continue
        t, m, c, g = r.get("train", {}), r.get("memory"), r.get("counts", {}), r.get("generate")
        mfu = t.get("mfu")
        lines.append(
            [
                r["model"],
                r["backend"],
                r["variant"],
                shape,
                fmt(t.get("tokensPerSec")),
                fmt(t.get("stepMsMedian"), 1),
                f"{t.get('tflops', 0):.2f}",
                "-" if mfu is None else f"{mfu * 100:.1f}%",
                fmt(m["peakBytes"] / 2**20) if m else "-",
                fmt(m["stepPeakBytes"] / 2**20) if m else "-",
                fmt(c.get("dispatchesPerStep"), 0),
                fmt(g["prefillTokensPerSec"]) if g else "-",
                fmt(g["decodeTokensPerSec"], 2) if g else "-",
            ]
        )
    widths = [max([len(h)] + [len(l[i]) for l in lines if len(l) == len(cols)]) for i, h in enumerate(cols)]

    def pad(cells):
        if len(cells) != len(cols):
            return "  ".join(c.ljust(widths[i]) for i, c in enumerate(cells[:4])) + "  " + " ".join(cells[4:])
        return "  ".join(c.ljust(widths[i]) if i < 4 else c.rjust(widths[i]) for i, c in enumerate(cells))

    header = pad(cols)
    print(header)
    print("-" * len(header))
    for l in lines:
        print(pad(l))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODEL_IDS), help="comma-separated: " + ",".join(MODEL_IDS))
    p.add_argument("--variants", default="fp32,bf16-autocast", help="fp32 (TF32 off) and/or bf16-autocast")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--peak-tflops", type=float, default=None, help="the device's float32 peak, TFLOP/s (MFU of the fp32 row)")
    p.add_argument("--peak-tflops-bf16", type=float, default=None, help="the device's dense bf16 peak, TFLOP/s (MFU of the bf16 row)")
    p.add_argument("--impl", choices=["auto", "hf", "plain"], default="auto", help="transformers+PEFT when installed (auto), required (hf), or the plain torch model and LoRA")
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa", help="attention implementation (transformers' default is sdpa)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--configs", default=str(HERE / "model-configs.json"))
    p.add_argument("--no-generate", action="store_true")
    p.add_argument("--no-kernel-count", action="store_true")
    p.add_argument("--out", default=None, help="JSON report (default bench/results/torch-<time>.json)")
    args = p.parse_args(argv)

    if torch is None:
        print("torch is not installed: pip install torch (and transformers, peft for the HF path)", file=sys.stderr)
        return 2
    configs = load_model_configs(Path(args.configs))
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in configs:
            print(f"unknown model {m!r} (choose from {', '.join(configs)})", file=sys.stderr)
            return 2
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in ("fp32", "bf16-autocast"):
            print(f"unknown variant {v!r} (fp32, bf16-autocast)", file=sys.stderr)
            return 2

    device = torch.device(args.device)
    # float32 means float32: no TF32 in matmuls or convolutions, for either row (autocast's bf16
    # matmuls are unaffected).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")

    backend = {"name": f"torch-{device.type}", "reason": f"torch {torch.__version__}"}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        backend["reason"] += f", CUDA {torch.version.cuda}, {props.name}"
        backend["adapter"] = {"vendor": "nvidia", "architecture": f"sm_{props.major}{props.minor}", "device": props.name, "description": f"{props.total_memory / 2**30:.0f} GiB"}
    software = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("transformers", "peft"):
        try:
            software[name] = __import__(name).__version__
        except ImportError:
            software[name] = "not installed"

    rows = []
    for m in models:
        for v in variants:
            print(f"{m} / {v}", file=sys.stderr)
            rows.append(run_row(m, configs[m]["config"], v, args, device))

    report = {
        "schema": SCHEMA,
        "runner": "torch",
        "createdAt": datetime.now(timezone.utc).isoformat(),
        "command": " ".join(sys.argv[1:] if argv is None else argv),
        "git": git_info(),
        "machine": machine_info(),
        "software": software,
        "backends": [backend],
        "config": {
            "models": models,
            "backends": [backend["name"]],
            "variants": variants,
            "steps": args.steps,
            "warmup": args.warmup,
            "seq": args.seq,
            "batch": args.batch,
            "rank": args.rank,
            "alpha": args.alpha,
            "promptTokens": args.prompt,
            "newTokens": args.new_tokens,
            "peakTflops": args.peak_tflops,
            "peakTflopsBf16": args.peak_tflops_bf16,
            "swiftshader": False,
            "profile": device.type == "cuda",
            "generate": not args.no_generate,
            "impl": args.impl,
            "attn": args.attn,
        },
        "rows": rows,
    }
    print()
    print(f"torch · {report['createdAt']} · {backend['reason']} · {args.warmup} warm-up + {args.steps} timed steps")
    print_table(rows)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else HERE / "results" / f"torch-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return 1 if any(r["status"] == "error" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
