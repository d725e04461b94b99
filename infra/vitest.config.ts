import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/matchers.ts'],
    // Synthesizing a stack is CPU-bound; one fork per core is plenty on 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    // Synthesizing a stack in beforeAll takes seconds, more on a loaded shared machine.
    hookTimeout: 120_000,
  },
});
