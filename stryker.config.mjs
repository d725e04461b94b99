// @ts-check
/**
 * StrykerJS mutation testing (`npm run test:mutation [group-prefix…]`, not part of CI). Each group
 * mutates its modules and runs only their own fast unit tests, so a module's score says what its
 * own tests catch, not what some end-to-end test happens to touch. scripts/mutation.mjs runs the
 * groups of scripts/mutation-groups.mjs one by one (MUTATION_GROUP selects one here) and prints a score per module.
 *
 * No TypeScript checker: TypeScript 7 has no compiler API for @stryker-mutator/typescript-checker,
 * so mutants that would not type-check are run anyway (vitest strips the types) and count by what
 * the tests observe.
 */

import { groups } from './scripts/mutation-groups.mjs';

const name = process.env.MUTATION_GROUP ?? '';
const group = groups[name];
if (!group) throw new Error(`MUTATION_GROUP must be one of: ${Object.keys(groups).join(', ')} (run npm run test:mutation)`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: group.mutate,
  // The group's test files are vitest.mutation.config.ts's include, not `testFiles` here: Stryker
  // gives every mutant a test filter when `testFiles` is set and then never activates a static mutant
  // (module-level code) before its module loads, so all of them survived.
  coverageAnalysis: 'perTest',
  // MUTATION_ALL_KILLERS=1 runs every covering test of a mutant, so the report's killedBy says which
  // test files catch it (e.g. to score the tests a module had before new ones were added).
  disableBail: process.env.MUTATION_ALL_KILLERS === '1',
  // Stryker rewrites tsconfig.json's paths with the TypeScript compiler API, which TypeScript 7 does
  // not have; nothing here needs the rewrite (vitest ignores tsconfig paths we do not use).
  tsconfigFile: 'no-tsconfig-rewrite.json',
  // The 2 cores are shared; one test process at a time.
  concurrency: 1,
  // A module without unit tests of its own scores 0 % instead of stopping the run.
  allowEmpty: true,
  // Re-runs only mutants whose code or tests changed since the last run of this group.
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  thresholds: { high: 80, low: 60, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  ignorePatterns: ['/infra', '/docs', '/public', '/migrations', '/test/e2e', '/test/integration', '/test/security'],
};
