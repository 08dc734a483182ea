// Node's Dawn toggles: the defaults always, and WEBLORA_DAWN_FEATURES added once each.
import { describe, expect, it } from 'vitest';
import { dawnFlags } from '../../src/engine/backend-node';

describe('dawnFlags', () => {
  it('asks for unsafe APIs (subgroup matrices) and f16 on NVIDIA by default', () => {
    expect(dawnFlags(undefined)).toEqual(['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia']);
    expect(dawnFlags('')).toEqual(dawnFlags(undefined));
  });
  it('adds the features named in the environment, without repeats', () => {
    expect(dawnFlags(' disable_robustness, allow_unsafe_apis ,')).toEqual(['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia,disable_robustness']);
  });
});
