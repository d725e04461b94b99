#!/usr/bin/env node
/**
 * `npm run test:mutation [prefix…]`: runs StrykerJS once per group of scripts/mutation-groups.mjs whose name
 * starts with one of the prefixes (all groups without one), then prints the mutation score of every
 * mutated file. Exits 1 when a file scores under 80 % (the bar of issue 17). Not part of CI: a
 * full run takes tens of minutes on 2 cores; incremental mode makes re-runs quick.
 *
 *   npm run test:mutation -- audio            # every src/audio group
 *   npm run test:mutation -- recordings-range # one module
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { groups } from './mutation-groups.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prefixes = process.argv.slice(2);
const selected = Object.keys(groups).filter((g) => prefixes.length === 0 || prefixes.some((p) => g.startsWith(p)));
if (selected.length === 0) {
  console.error(`No group starts with ${prefixes.join(', ')}; groups: ${Object.keys(groups).join(', ')}`);
  process.exit(2);
}

// test/support/audio.ts reads ../shared beside the clone; Stryker runs the tests from
// .stryker-tmp/sandbox-*/, so give the sandbox's parent the same neighbour.
const shared = [path.resolve(root, '../shared'), path.resolve(gitCommonDir(), '../../shared')].find((d) => fs.existsSync(d));
function linkShared() {
  if (!shared) return;
  fs.mkdirSync(path.join(root, '.stryker-tmp'), { recursive: true });
  fs.rmSync(path.join(root, '.stryker-tmp/shared'), { force: true });
  fs.symlinkSync(shared, path.join(root, '.stryker-tmp/shared'));
}

const BAR = 80;
const rows = [];
const failed = [];
for (const name of selected) {
  console.log(`\n=== mutation group ${name} ===`);
  // With no test file, vitest would run every unit test instead of none.
  if (!groups[name].tests.some((t) => exists(t))) {
    console.error(`no unit test file of group ${name} exists: ${groups[name].tests.join(', ')}`);
    failed.push(name);
    continue;
  }
  linkShared();
  const r = spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs'], { cwd: root, stdio: 'inherit', env: { ...process.env, MUTATION_GROUP: name } });
  if (r.status !== 0) {
    console.error(`stryker failed for group ${name} (exit ${r.status})`);
    failed.push(name);
    continue;
  }
  const report = JSON.parse(fs.readFileSync(path.join(root, 'reports/mutation', `${name}.json`), 'utf8'));
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const count = (s) => mutants.filter((m) => m.status === s).length;
    const detected = count('Killed') + count('Timeout');
    const undetected = count('Survived') + count('NoCoverage');
    const score = detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected);
    rows.push({ file, score, detected, undetected });
  }
}

console.log('\nmutation score per file (killed + timeout) / (killed + timeout + survived + no coverage):');
for (const r of rows) console.log(`${r.score.toFixed(1).padStart(6)} %  ${String(r.detected).padStart(4)} killed  ${String(r.undetected).padStart(4)} survived  ${r.file}`);
const total = rows.reduce((a, r) => ({ d: a.d + r.detected, u: a.u + r.undetected }), { d: 0, u: 0 });
console.log(`${((100 * total.d) / Math.max(1, total.d + total.u)).toFixed(1).padStart(6)} %  overall`);
const below = rows.filter((r) => r.score < BAR);
if (below.length > 0) console.error(`under ${BAR} %: ${below.map((r) => r.file).join(', ')}`);
if (failed.length > 0) console.error(`stryker failed for: ${failed.join(', ')}`);
if (below.length > 0 || failed.length > 0) process.exit(1);


/** Whether a file matches `pattern` (a path whose last part may hold `*`; Node 20 has no fs.glob). */
function exists(pattern) {
  const dir = path.join(root, path.dirname(pattern));
  const re = new RegExp(`^${path.basename(pattern).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => re.test(f));
}

/** The main clone's .git folder (a worktree's own .git is a file pointing into it). */
function gitCommonDir() {
  const r = spawnSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : path.join(root, '.git');
}
