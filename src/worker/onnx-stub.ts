// Stands in for onnxruntime-web in browser builds (aliased in vite.config.ts). WebLoRA uses
// transformers.js only for configs, tokenizers, chat templates and hub downloads; its ONNX
// inference path is never reached. Without this stub the bundle would carry onnxruntime-web's
// JavaScript and ~20 MB of wasm that nothing runs. `env` is left undefined so transformers.js
// skips its ONNX setup; anything that does try to run a model gets a clear error.
export { Tensor } from 'onnxruntime-common';

export const env = undefined;

export class InferenceSession {
  static create(): Promise<never> {
    return Promise.reject(new Error('ONNX inference is not part of WebLoRA (transformers.js is used for tokenizers only)'));
  }
}
