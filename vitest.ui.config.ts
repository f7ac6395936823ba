import { defineConfig } from 'vitest/config';

// The browser tests (`npm run test:ui`): headless Chromium against the real server (dist/cli.js).
export default defineConfig({
  test: {
    include: ['test/ui/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // One Chromium and one server at a time: the machine has two cores.
    maxWorkers: 1,
  },
});
