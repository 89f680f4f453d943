import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./test/support/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Integration files each get their own database and queue prefix, so files run in parallel.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
  },
});
