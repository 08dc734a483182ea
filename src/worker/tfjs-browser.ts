// What the engine needs of the @tensorflow/tfjs umbrella, for browser builds (aliased in
// vite.config.ts): tfjs-core's ops, every gradient, the chained ops, and the cpu backend. The
// umbrella would also bring tfjs-layers, tfjs-converter, tfjs-data and the WebGL backend —
// about 1 MB of JavaScript the worker never runs. (In Node the engine keeps the umbrella: only
// its CommonJS build registers gradients without ESM deep imports.)
export * from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
