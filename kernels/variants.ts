// Every shader variant the kernels dispatch, as Programs on placeholder tensors (shapes only
// matter where they pick a variant): what `npm run kernels:dump` writes out and
// test/webgpu/kernels-compile.test.ts compiles. A kernel with a new compile-time parameter adds
// its values here.
import type { tf } from '../src/engine/tf';
import { shaderSource, type Program } from './program';
import { addRmsNormGradProgram, addRmsNormProgram, rmsNormGradProgram, rmsNormProgram } from './rmsnorm';
import { swigluGradProgram, swigluProgram } from './swiglu';
import { gegluGradProgram, gegluProgram } from './geglu';
import { ropeProgram } from './rope';
import { attentionProgram } from './attention';
import { groupedMatmulProgram, loraDownProgram, matmulProgram, type MatmulTerm } from './matmul';
import { combineProgram, headGradProgram, partialsProgram, partialsTileFits, softmaxGradProgram } from './cross-entropy';
import { adamwProgram, sumSquaresProgram } from './adamw';
import { sampleProgram } from './sample';
import { TILE_CANDIDATES } from './tuning';
import { MM, type TileConfig } from './matmul.wgsl';

const t = (shape: number[], dtype: tf.DataType = 'float32'): tf.TensorInfo => ({ dataId: {}, shape, dtype });

/** Head sizes: the models' 64, 128 and 256 (Gemma 3), the tests' 8 and 16, and ones that divide 1024 unevenly. */
const HEAD_DIMS = [8, 16, 32, 48, 64, 80, 96, 128, 256];
/** Row widths on either side of the norms' workgroup switch. */
const NORM_COLS = [64, 2048];

function norms(): Program[] {
  return NORM_COLS.flatMap((cols) => {
    const x = t([2, cols]);
    const w = t([cols]);
    return [rmsNormProgram(x, w, 1e-5), rmsNormGradProgram(x, w, x, 1e-5), addRmsNormProgram(x, x, w, 1e-5), addRmsNormGradProgram(x, w, x, x, 1e-5)];
  });
}

function attention(): Program[] {
  return HEAD_DIMS.flatMap((d) => {
    const q = t([1, 4, 5, d]);
    const kv = t([1, 2, 7, d]);
    const mask = t([1, 7], 'int32');
    const o = t([1, 5, 4 * d]);
    const stats = t([1, 4, 5, 2]);
    return [
      attentionProgram('fwd', { Q: q, K: kv, V: kv, MASK: mask }, { result: o.shape }, { scale: 1 }),
      attentionProgram('stats', { Q: q, K: kv, MASK: mask, O: o, DO: o }, { result: stats.shape }, { scale: 1 }),
      attentionProgram('dq', { Q: q, K: kv, V: kv, MASK: mask, DO: o, STATS: stats }, { result: q.shape }, { scale: 1 }),
      attentionProgram('dkv', { Q: q, K: kv, V: kv, MASK: mask, DO: o, STATS: stats }, { DK: kv.shape, DV: kv.shape }, { scale: 1 }),
    ];
  });
}

/** α·op(P)·op(Q) of 64 × 64 × 64 with the given transposes ('nt': op(Q) = Qᵀ). */
function term(flags: string): MatmulTerm {
  return { p: { t: t([64, 64]), trans: flags[0] === 't' }, q: { t: t([64, 64]), trans: flags[1] === 't' }, alpha: 1 };
}
const FLAGS = ['nn', 'nt', 'tn', 'tt'];
/** The matmuls kernels/lora-linear.ts runs (forward x·Wᵀ + u·Bᵀ, input gradient dy·W + du·A accumulated), on every candidate tile. */
const LORA_MATMULS = ['nt', 'nt+nt', 'nn', 'nn+nn', 'nn+nn+acc'];

/** `combo`: the flags of one or two terms, then 'acc' when the sum accumulates into ACC. */
function matmulVariant(combo: string, cfg: TileConfig): Program {
  const [f1, f2, acc] = combo.split('+');
  return matmulProgram(term(f1), f2 && f2 !== 'acc' ? term(f2) : undefined, acc || f2 === 'acc' ? t([64, 64]) : undefined, cfg);
}

function matmuls(): Program[] {
  // Every combination of transposes and accumulation on the default tile.
  const combos = FLAGS.flatMap((a) => [a, `${a}+acc`, ...FLAGS.flatMap((b) => [`${a}+${b}`, `${a}+${b}+acc`])]);
  return [
    ...combos.map((c) => matmulVariant(c, MM)),
    ...TILE_CANDIDATES.flatMap((cfg) => LORA_MATMULS.map((c) => matmulVariant(c, cfg))),
    ...FLAGS.flatMap((a) => FLAGS.map((b) => groupedMatmulProgram(term(a), term(b)))),
    ...[2, 3].map((parts) => loraDownProgram(t([64, 64]), Array.from({ length: parts }, () => t([8, 64])))),
    // The LoRA products the tuned tiles can serve: dA with dB, du pairs, and the down-projection.
    // (vec4 tiles only: the others are the default tile's code with other constants.)
    ...TILE_CANDIDATES.filter((cfg) => cfg.vec4).flatMap((cfg) => [
      groupedMatmulProgram(term('tn'), term('tn'), cfg),
      groupedMatmulProgram(term('nn'), term('nn'), cfg),
      ...[2, 3].map((parts) => loraDownProgram(t([64, 64]), Array.from({ length: parts }, () => t([8, 64])), cfg)),
    ]),
  ];
}

function crossEntropy(): Program[] {
  const h = t([37, 40]);
  const w = t([517, 40]);
  const labels = t([37], 'int32');
  const rows = t([37]);
  const g = t([37, 128]);
  return [
    partialsProgram(h, w, labels),
    combineProgram(t([37, 9, 3])),
    softmaxGradProgram(h, w, labels, rows, rows, 0, 128),
    headGradProgram(g, w, null, 0),
    headGradProgram(g, w, t([37, 40]), 128),
    // On the vec4 tiles the tuner may pick for the lm_head's products.
    ...TILE_CANDIDATES.filter((cfg) => cfg.vec4).flatMap((cfg) => [
      ...(partialsTileFits(cfg) ? [partialsProgram(h, w, labels, undefined, cfg)] : []),
      softmaxGradProgram(h, w, labels, rows, rows, 0, 128, undefined, cfg),
      headGradProgram(g, w, t([37, 40]), 128, undefined, cfg),
    ]),
  ];
}

function optimizer(): Program[] {
  const g = t([8, 5]);
  const step = { beta1: 0.9, beta2: 0.999, eps: 1e-8, decay: 1, stepSize: 1e-3, sqrtBc2: 1, maxNorm: 1 };
  return [
    ...[1, 2, 3, 4, 5, 6].flatMap((n) => [sumSquaresProgram(Array(n).fill(g)), sumSquaresProgram(Array(n).fill(g), t([1]))]),
    adamwProgram(g, g, g, g, t([1]), step),
  ];
}

/** Every variant once; a name stands for one WGSL text (it keys the pipeline cache). */
export function allPrograms(): Program[] {
  const q = t([2, 5, 4, 8]);
  const kv = t([2, 5, 2, 8]);
  const cs = t([2, 5, 8]);
  const x = t([2, 7, 43]);
  const programs = [
    ...norms(),
    swigluProgram(x, x),
    swigluGradProgram(x, x, x),
    gegluProgram(x, x),
    gegluGradProgram(x, x, x),
    ropeProgram('fwd', q, kv, kv, cs, cs),
    ropeProgram('bwd', t([2, 4, 5, 8]), t([2, 2, 5, 8]), t([2, 2, 5, 8]), cs, cs),
    ...attention(),
    ...matmuls(),
    ...crossEntropy(),
    ...optimizer(),
    sampleProgram(t([2, 517]), t([2, 3], 'int32'), t([2]), { temperature: 1, topK: 0, topP: 1, penalty: 1 }),
  ];
  const byName = new Map<string, Program>();
  for (const p of programs) {
    const seen = byName.get(p.name);
    if (seen && shaderSource(seen) !== shaderSource(p)) throw new Error(`kernels/variants.ts: two different shaders are named ${p.name}`);
    byName.set(p.name, p);
  }
  return [...byName.values()];
}
