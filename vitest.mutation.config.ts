import { defineConfig } from 'vitest/config';

/**
 * The vitest configuration StrykerJS runs (`npm run test:mutation`): fast unit tests only, so no
 * global PostgreSQL (vitest.config.ts starts one for every run). Which test files run for which
 * module is chosen per group in stryker.config.mjs.
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    // Stryker's first run collects coverage per test, which makes hot loops many times slower.
    testTimeout: 600_000,
  },
});
