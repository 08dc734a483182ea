import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import viteConfig from './vite.config';
import { CHROMIUM_ARGS } from './test/helpers/static-server';

// One project per test lane (test/README.md says what each runs, on what, and for how long):
//   fast          test/unit     Node: numerics on cpu/wasm with stories260K and tiny models, data,
//                               hub, CLI, bench, import cycles          npm run test:fast
//   webgpu        test/webgpu   Node: stories260K and the kernel suites on Dawn + SwiftShader,
//                               stock and fused kernels                 npm run test:webgpu
//   e2e-node      test/browser  Node drives the built app in Chromium (playwright-core)
//   e2e-chromium  test/chromium the kernel suites inside Chromium (Vitest browser mode)
//                                                                       npm run test:e2e
//   slow          test/slow     Node: full-size random models, long training   npm run test:slow
// `npm test` runs them all. Timeouts are per lane, sized for a loaded 2-core machine without a
// GPU (SwiftShader, software Vulkan, runs a stories260K training step in 20–30 s there); a test
// that needs more says so itself.
const MINUTE = 60_000;

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 2 * MINUTE,
          hookTimeout: 3 * MINUTE,
        },
      },
      {
        extends: true,
        test: {
          name: 'webgpu',
          include: ['test/webgpu/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 10 * MINUTE,
          hookTimeout: 10 * MINUTE,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e-node',
          include: ['test/browser/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 10 * MINUTE,
          hookTimeout: 10 * MINUTE,
        },
      },
      {
        extends: true,
        resolve: viteConfig.resolve,
        test: {
          name: 'e2e-chromium',
          include: ['test/chromium/**/*.test.ts'],
          testTimeout: 5 * MINUTE,
          hookTimeout: 5 * MINUTE,
          browser: {
            enabled: true,
            headless: true,
            // Debian's Chromium, launched by path (never a downloaded one), with WebGPU enabled.
            provider: playwright({
              launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'slow',
          include: ['test/slow/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 15 * MINUTE,
          hookTimeout: 10 * MINUTE,
        },
      },
    ],
  },
});
