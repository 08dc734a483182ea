// Gemma 3's turns: the chat template's <end_of_turn> is what training teaches the model to
// write after an answer, and what ends generation.
import { float32Weight } from '../../kernels/half';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { parseModelConfig } from '../../src/engine/model/config';
import { endOfTurnTokenId, type TextTokenizer } from '../../src/engine/model/tokenizer';
import { Gemma3Model } from '../../src/engine/model/gemma3';
import { disposeWeights } from '../../src/engine/model/weights';
import { buildExamples } from '../../src/engine/data/examples';
import { generate } from '../../src/engine/generate/generate';
import { randomWeights, TINY_GEMMA3 } from '../helpers/random-model';
import { loadStoriesChatmlTokenizer, loadStoriesTokenizer } from '../helpers/stories-tokenizer';
import { END_OF_TURN, loadGemmaTurnTokenizer, START_OF_TURN } from '../helpers/gemma3-tokenizer';

let tok: TextTokenizer;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tok = await loadGemmaTurnTokenizer();
});

const conversation = {
  kind: 'conversation' as const,
  conversation: { turns: [{ role: 'user' as const, content: 'Who is Lily?' }, { role: 'assistant' as const, content: 'A little girl.' }] },
};

describe('Gemma 3 chat template', () => {
  it('renders turns with <start_of_turn>/<end_of_turn>, and <end_of_turn> is the template\'s end-of-turn token', () => {
    const text = tok.applyChatTemplate([{ role: 'user', content: ' Hi ' }, { role: 'assistant', content: 'Hello' }]);
    expect(text).toBe('<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n');
    expect(tok.encode('<start_of_turn>model\n', { addSpecialTokens: false })[0]).toBe(START_OF_TURN);
    expect(endOfTurnTokenId(tok)).toBe(END_OF_TURN);
  });

  it('a tokenizer without a template, or whose end marker is plain text, has none', async () => {
    expect(endOfTurnTokenId(await loadStoriesTokenizer())).toBeNull();
    // stories260K knows no <|im_end|> token: the ChatML marker is several ordinary pieces.
    expect(endOfTurnTokenId(await loadStoriesChatmlTokenizer())).toBeNull();
  });

  it('training targets the answer through <end_of_turn>, and appends no other EOS', () => {
    const built = buildExamples([{ file: 'chat.jsonl', line: 1, sample: conversation }], tok, { template: 'chat-template', maxLength: 128, trainOn: 'responses' });
    expect(built.dropped).toEqual([]);
    const [e] = built.examples;
    const trained = e!.inputIds.filter((_, i) => e!.lossMask[i] === 1);
    // (The SentencePiece decoder writes the newline after a special token as " \n".)
    expect(tok.decode(trained)).toMatch(/^A little girl\.<end_of_turn> ?\n$/);
    expect(trained).toContain(END_OF_TURN);
    expect(e!.inputIds).not.toContain(tok.eosTokenId);
  });
});

describe('generation on Gemma 3', () => {
  it('stops at <end_of_turn> by default (a model made to write it first)', async () => {
    const config = parseModelConfig({ ...TINY_GEMMA3, vocab_size: 520, eos_token_id: 1 });
    const weights = randomWeights(config, 5);
    const prompt = tok.encode(tok.applyChatTemplate([{ role: 'user', content: 'Who is Lily?' }], { addGenerationPrompt: true }), { addSpecialTokens: false });
    // Point <end_of_turn>'s (tied) embedding along the prompt's last hidden state, so its logit
    // is 10 where the others are about ±0.1: greedy decoding writes it first.
    const probe = new Gemma3Model(config, weights);
    const last = tf.tidy(() => {
      const { hidden } = probe.forward(tf.tensor2d([prompt], [1, prompt.length], 'int32'));
      return hidden.slice([0, prompt.length - 1, 0], [1, 1, -1]).reshape([-1]);
    });
    const h = (await last.data()) as Float32Array;
    last.dispose();
    probe.dispose();
    const norm2 = h.reduce((s, x) => s + x * x, 0);
    const embed = weights.get('model.embed_tokens.weight')!;
    const rows = (await float32Weight(embed).data()).slice() as Float32Array;
    rows.set(h.map((x) => (10 * x) / norm2), END_OF_TURN * config.hiddenSize);
    embed.dispose();
    weights.set('model.embed_tokens.weight', tf.tensor2d(rows, [config.vocabSize, config.hiddenSize]));

    const model = new Gemma3Model(config, weights);
    const out = await generate(model, tok, prompt, { maxNewTokens: 5 });
    // Told only the config's EOS, it runs on past the marker.
    const unstopped = await generate(model, tok, prompt, { maxNewTokens: 5, eosTokenIds: [1] });
    model.dispose();
    disposeWeights(weights);
    expect(out.ids).toEqual([END_OF_TURN]);
    expect(out.finishReason).toBe('eos');
    expect(unstopped.ids[0]).toBe(END_OF_TURN);
    expect(unstopped.ids).toHaveLength(5);
  });
});
