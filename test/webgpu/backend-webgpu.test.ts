// stories260K's numerics (test/helpers/backend-suite.ts) on Dawn over SwiftShader with the stock
// TF.js ops (`--kernels stock`: the fallback should a fused kernel misbehave on some adapter):
// greedy output equals reference_greedy.json and padded-batch logits equal cpu. The KV-cache
// comparison (two more minutes here) runs with the fused kernels in kernels-model.test.ts and on
// stock ops on cpu and wasm; the first training losses on stock ops are in train-webgpu.test.ts.
import { backendSuite, dawnSwiftShader } from '../helpers/backend-suite';

backendSuite('webgpu', { kernels: 'stock', kvCache: false, setup: dawnSwiftShader });
