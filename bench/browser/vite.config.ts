// Builds the bench page alone (bench/browser/index.html + main.ts and the engine it imports),
// separate from the app's build: `vite build -c bench/browser/vite.config.ts`, or through
// bench/browser/run.ts, which builds, serves and drives it.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 8000,
  },
});
