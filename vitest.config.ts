import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real PostgreSQL and S3 servers; keep the 2-core machines unhurried.
    testTimeout: 60_000,
    // Polls wait for what real servers do on a loaded 2-core machine; they return as soon as it is true.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
