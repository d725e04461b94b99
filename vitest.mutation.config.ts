import { defineConfig } from 'vitest/config';
import { groups } from './scripts/mutation-groups.mjs';

/**
 * The vitest configuration StrykerJS runs (`npm run test:mutation`): fast unit tests only, so no
 * global PostgreSQL (vitest.config.ts starts one for every run).
 *
 * The group's test files (MUTATION_GROUP, set by scripts/mutation.mjs) are chosen here, not with
 * Stryker's `testFiles`: with `testFiles` set, Stryker 9.6 gives every mutant a test filter, so it
 * activates static (module-level) mutants at run time, in a beforeAll after the module under test was
 * already evaluated, and they all survive (src/config.ts's schema: 61.6 % with 73 of 83 survivors
 * static, e.g. `const int = () => undefined`). Without a filter a static mutant is active while its
 * module loads.
 */
const group = groups[process.env.MUTATION_GROUP ?? ''];

export default defineConfig({
  test: {
    include: group ? group.tests : ['test/unit/**/*.test.ts'],
    // Stryker's first run collects coverage per test, which makes hot loops many times slower.
    testTimeout: 600_000,
  },
});
