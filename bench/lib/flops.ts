// Model FLOPs of one LoRA training step, counted from the shapes (not measured), so that
// tokens/s on any backend — and the PyTorch peer, which uses the same formula — converts to an
// achieved FLOP/s and a model FLOPs utilisation (MFU = achieved FLOP/s ÷ the device's peak).
//
// A multiply-add is 2 FLOPs; element-wise work (norms, RoPE, softmax, SiLU, residual adds,
// AdamW on the LoRA parameters) is left out, as is usual for MFU. For one trained token in a
// sequence of T tokens (L layers, H hidden, V vocab, nH query heads of size d, rank r):
//
//   N_matmul = L · Σ_linear (out · in)  +  V · H          every frozen matmul weight, incl. lm_head
//                                                          (tied or not: the head matmul runs anyway)
//   forward   matmuls      2 · N_matmul
//   backward  matmuls      2 · N_matmul                    gradient w.r.t. the activations only: the
//                                                          weights are frozen, so no weight-gradient
//                                                          matmul (the 4·N of full fine-tuning is 2·N)
//   forward   attention    4 · L · nH · d · T              per layer and query head, QKᵀ (2·T·d) and
//                                                          P·V (2·T·d); the full T×T square, as stock
//                                                          TF.js computes it (no causal halving)
//   backward  attention    8 · L · nH · d · T              dQ, dK, dP, dV: 2× the forward
//   forward   LoRA         2 · r · Σ_adapted (in + out)    x·Aᵀ (2·r·in), then ·Bᵀ (2·r·out)
//   backward  LoRA         4 · r · Σ_adapted (in + out)    d(xAᵀ) = dy·B and dx = d(xAᵀ)·A (2·r·(in+out)),
//                                                          plus the weight grads dB = dyᵀ·(xAᵀ) and
//                                                          dA = d(xAᵀ)ᵀ·x (2·r·(in+out))
//
//   per trained token = 4·N_matmul + 12·L·nH·d·T + 6·r·Σ_adapted(in + out)
//
// A training step of B sequences of exactly T tokens: the decoder body runs on all B·T tokens,
// while the engine's loss gathers only positions that have a target before the lm_head — the
// last token of a sequence predicts nothing — so the head runs on B·(T−1) rows:
//
//   per step = B·T · (4·N_body + 12·L·nH·d·T + 6·r·Σ_adapted(in+out))  +  B·(T−1) · 4·V·H
//
// with N_body = N_matmul − V·H. (PaLM's 6·N + 12·L·nH·d·T for full training becomes 4·N here.)
import type { ModelConfig } from '../../src/engine/model/config';
import { isTargeted, linearModules } from '../../src/engine/model/linears';

export interface FlopsInput {
  config: ModelConfig;
  /** Tokens per sequence (T). */
  seq: number;
  /** Sequences per step (B). */
  batch: number;
  /** LoRA rank (r). */
  rank: number;
  /** Adapted module names, e.g. TARGET_PRESETS['all-linear']. */
  targetModules: readonly string[];
}

export interface FlopsBreakdown {
  matmulForward: number;
  matmulBackward: number;
  attentionForward: number;
  attentionBackward: number;
  loraForward: number;
  loraBackward: number;
}

export interface TrainingFlops {
  /** Frozen matmul weights, lm_head included (N_matmul). */
  matmulParams: number;
  /** lm_head's share of matmulParams (V·H). */
  headParams: number;
  /** Trainable LoRA parameters: r·Σ_adapted(in + out). */
  loraParams: number;
  /** FLOPs of one trained token at context length T, by term. */
  perTokenBreakdown: FlopsBreakdown;
  /** Sum of perTokenBreakdown. */
  perTrainedToken: number;
  /** Exact for B·T tokens with B·(T−1) of them trained. */
  perStep: number;
  tokensPerStep: number;
  trainedTokensPerStep: number;
}

export function trainingFlops({ config: c, seq: T, batch: B, rank: r, targetModules }: FlopsInput): TrainingFlops {
  let body = 0;
  let loraInOut = 0;
  for (const [path, { out, in: inp }] of linearModules(c)) {
    body += out * inp;
    if (isTargeted(path, targetModules)) loraInOut += inp + out;
  }
  const head = c.vocabSize * c.hiddenSize;
  const matmulParams = body + head;
  const attn = c.numLayers * c.numHeads * c.headDim * T;
  const perTokenBreakdown: FlopsBreakdown = {
    matmulForward: 2 * matmulParams,
    matmulBackward: 2 * matmulParams,
    attentionForward: 4 * attn,
    attentionBackward: 8 * attn,
    loraForward: 2 * r * loraInOut,
    loraBackward: 4 * r * loraInOut,
  };
  const perTrainedToken = Object.values(perTokenBreakdown).reduce((a, b) => a + b, 0);
  const tokensPerStep = B * T;
  const trainedTokensPerStep = B * (T - 1);
  const perStep = tokensPerStep * (perTrainedToken - 4 * head) + trainedTokensPerStep * 4 * head;
  return {
    matmulParams,
    headParams: head,
    loraParams: r * loraInOut,
    perTokenBreakdown,
    perTrainedToken,
    perStep,
    tokensPerStep,
    trainedTokensPerStep,
  };
}

/** Achieved model FLOP/s of a step, and the MFU when the device's peak is known. */
export function utilisation(flopsPerStep: number, stepMs: number, peakTflops?: number): { tflops: number; mfu: number | null } {
  const tflops = flopsPerStep / (stepMs / 1000) / 1e12;
  return { tflops, mfu: peakTflops && peakTflops > 0 ? tflops / peakTflops : null };
}
