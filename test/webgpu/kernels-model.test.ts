// stories260K's numerics (test/helpers/backend-suite.ts) on Dawn over SwiftShader with the fused
// WGSL kernels (the default): golden greedy output, padded-batch logits equal to cpu, and KV-cache
// generation equal to generation without a cache. backend-webgpu.test.ts runs the same on stock ops.
import { backendSuite, dawnSwiftShader } from '../helpers/backend-suite';

backendSuite('webgpu', { kernels: 'fused', setup: dawnSwiftShader });
