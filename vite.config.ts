// The web app: a static site (relative base, so it works from any folder of any static host),
// with the engine in an ES-module Web Worker and the TF.js wasm binaries emitted as assets.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const onnxStub = fileURLToPath(new URL('./src/worker/onnx-stub.ts', import.meta.url));
const tfjsBrowser = fileURLToPath(new URL('./src/worker/tfjs-browser.ts', import.meta.url));

export default defineConfig({
  base: './',
  plugins: [react()],
  resolve: {
    // transformers.js's web build imports onnxruntime-web at the top; WebLoRA uses only its
    // tokenizers, configs and hub code, so a stub keeps ~20 MB of ONNX runtime out of the site.
    alias: [
      { find: /^onnxruntime-web(\/webgpu)?$/, replacement: onnxStub },
      // The engine imports the TF.js umbrella; the browser needs only its core (see the file).
      { find: /^@tensorflow\/tfjs$/, replacement: tfjsBrowser },
    ],
  },
  worker: { format: 'es' },
  optimizeDeps: {
    // Pre-bundling would resolve onnxruntime-web before the alias applies in dev.
    exclude: ['@huggingface/transformers'],
  },
  build: {
    target: 'es2022',
    sourcemap: false,
    // The worker chunk holds TF.js and its backends; that size is expected.
    chunkSizeWarningLimit: 4000,
  },
  server: { port: 5173 },
});
