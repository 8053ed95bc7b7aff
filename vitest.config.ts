import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration and end-to-end files share one PostgreSQL and one Redis; running files one at a
    // time keeps their data apart without per-file databases.
    fileParallelism: false,
    reporters: ['default'],
  },
});
