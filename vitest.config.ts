import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each integration file opens its own embedded PostgreSQL (PGlite, ~0.5 GB): two at a time fit.
    maxWorkers: 2,
  },
});
