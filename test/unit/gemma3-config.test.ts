// A Gemma 3 config.json the decoder cannot run as written is refused with a ConfigError that
// names config.json and the field (nested ones by their path under text_config).
import { describe, expect, it } from 'vitest';
import { ConfigError, parseModelConfig } from '../../src/engine/model/config';
import { GEMMA3_270M, TINY_GEMMA3 } from '../helpers/random-model';

const refused = (raw: Record<string, unknown>, message: RegExp) => {
  expect(() => parseModelConfig(raw)).toThrow(ConfigError);
  expect(() => parseModelConfig(raw)).toThrow(message);
};

describe('Gemma 3 config errors', () => {
  it('an unknown layer_types entry names its index and value', () => {
    const layerTypes = [...(GEMMA3_270M.layer_types as string[])];
    layerTypes[4] = 'chunked_attention';
    refused({ ...GEMMA3_270M, layer_types: layerTypes }, /config\.json: layer_types\[4\] is "chunked_attention", which is not a supported layer type \(supported: full_attention, sliding_attention\)/);
  });

  it('layer_types that is not a list is refused', () => {
    refused({ ...GEMMA3_270M, layer_types: 'sliding_attention' }, /config\.json: layer_types must be a list/);
  });

  it('layer_types of another length than num_hidden_layers', () => {
    refused({ ...GEMMA3_270M, num_hidden_layers: 17 }, /config\.json: layer_types has 18 entries but num_hidden_layers is 17/);
  });

  it('a missing sliding_window, when a layer slides', () => {
    const { sliding_window: _, ...raw } = GEMMA3_270M as Record<string, unknown>;
    refused(raw, /config\.json: missing required field "sliding_window"/);
    // Only full layers: nothing needs a window.
    const full = parseModelConfig({ ...raw, layer_types: new Array(18).fill('full_attention') });
    expect(full.slidingWindow).toBeNull();
  });

  it('a sliding_window that is not a positive integer', () => {
    refused({ ...TINY_GEMMA3, sliding_window: 0 }, /config\.json: sliding_window must be a positive integer, got 0/);
    refused({ ...TINY_GEMMA3, sliding_window: '512' }, /config\.json: field "sliding_window" must be a number, got "512"/);
  });

  it('an unsupported hidden_activation', () => {
    refused({ ...GEMMA3_270M, hidden_activation: 'gelu' }, /config\.json: hidden_activation "gelu" is not supported for Gemma 3 \(supported: gelu_pytorch_tanh\)/);
  });

  it('logit soft-capping (Gemma 2) and bidirectional attention (EmbeddingGemma)', () => {
    refused({ ...GEMMA3_270M, final_logit_softcapping: 30 }, /config\.json: final_logit_softcapping 30 is not supported/);
    refused({ ...GEMMA3_270M, attn_logit_softcapping: 50 }, /config\.json: attn_logit_softcapping 50 is not supported/);
    refused({ ...GEMMA3_270M, use_bidirectional_attention: true }, /config\.json: use_bidirectional_attention is true/);
  });

  it('a bad sliding_window_pattern (configs without layer_types)', () => {
    refused({ ...GEMMA3_270M, layer_types: undefined, sliding_window_pattern: 0 }, /config\.json: sliding_window_pattern must be a positive integer, got 0/);
  });

  it('a gemma3 config without text_config, and nested errors named by their path', () => {
    refused({ model_type: 'gemma3' }, /config\.json: model_type "gemma3" needs a "text_config" object/);
    const { sliding_window: _, ...text } = GEMMA3_270M as Record<string, unknown>;
    refused({ model_type: 'gemma3', text_config: text }, /config\.json: missing required field "text_config\.sliding_window"/);
    refused({ model_type: 'gemma3', text_config: { ...GEMMA3_270M, hidden_activation: 'relu' } }, /text_config\.hidden_activation "relu"/);
  });

  it('an unsupported rope_scaling or local rope_parameters type', () => {
    refused({ ...GEMMA3_270M, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /config\.json: rope_scaling type "yarn" is not supported/);
    refused(
      { ...GEMMA3_270M, rope_parameters: { full_attention: { rope_type: 'default' }, sliding_attention: { rope_type: 'linear', factor: 2 } } },
      /config\.json: rope_parameters\.sliding_attention rope_type "linear" is not supported/,
    );
  });
});
