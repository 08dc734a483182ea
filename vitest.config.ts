import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import viteConfig from './vite.config';
import { CHROMIUM_ARGS } from './test/helpers/static-server';

// Two projects: everything in Node (unit, WebGPU through Dawn, and the app driven in Chromium by
// playwright-core), and the kernel suites run inside Chromium itself by Vitest's browser mode,
// on Debian's Chromium (never a downloaded one) with WebGPU enabled.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/webgpu/**/*.test.ts', 'test/browser/**/*.test.ts'],
          pool: 'forks',
        },
      },
      {
        extends: true,
        resolve: viteConfig.resolve,
        test: {
          name: 'chromium',
          include: ['test/chromium/**/*.test.ts'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
