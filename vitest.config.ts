import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // The browser tests need Chromium: they run with `npm run test:ui` (vitest.ui.config.ts).
    exclude: [...configDefaults.exclude, 'test/ui/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each test file starts its own server and embedded PostgreSQL; the machine has two cores.
    maxWorkers: 2,
  },
});
