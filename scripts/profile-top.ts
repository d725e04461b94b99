/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR`): self time by function and
 * by package/file, and total (inclusive) time by function, top N.
 *
 *   npx tsx scripts/profile-top.ts FILE.cpuprofile [--top N] [--after REGEX] [--skip MS] [--window MS] [--long-tasks N]
 *
 * `--after REGEX` starts the summary at the first sample whose stack has a frame matching REGEX
 * (function name or file), e.g. `live-session` for the first audio chunk; `--skip MS` moves that
 * start later (to compare the first seconds with the steady state); `--window MS` ends it that long after. Without them the whole process life is summarised.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, after: { type: 'string' }, window: { type: 'string' }, 'long-tasks': { type: 'string' }, skip: { type: 'string' } },
});
const file = positionals[0];
if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [--top N] [--after REGEX] [--window MS]');
const top = Number(o.top);
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const stackOf = (id: number): Node[] => {
  const out: Node[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) out.push(byId.get(cur)!);
  return out;
};

// Sample times (µs from the first sample) and the window to summarise.
const at: number[] = [];
prof.timeDeltas.reduce((t, d, i) => ((at[i] = t + d), t + d), 0);
let from = 0;
if (o.after) {
  const re = new RegExp(o.after);
  const i = prof.samples.findIndex((id) => stackOf(id).some((n) => re.test(n.callFrame.functionName) || re.test(n.callFrame.url)));
  if (i < 0) throw new Error(`no sample matches ${o.after}`);
  from = at[i]!;
}
if (o.skip) from += Number(o.skip) * 1000;
const to = o.window ? from + Number(o.window) * 1000 : Infinity;

const where = (url: string) => {
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return url;
  const src = url.match(/\/(src\/.*|scripts\/.*)$/);
  return src ? src[1]! : url || '(native)';
};
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const fnAgg = new Map<string, number>();
const pkgAgg = new Map<string, number>();
const inclAgg = new Map<string, number>();
let total = 0;
let idle = 0;
prof.samples.forEach((id, i) => {
  if (at[i]! < from || at[i]! > to) return;
  const us = prof.timeDeltas[i] ?? 0;
  const n = byId.get(id)!;
  total += us;
  if (n.callFrame.functionName === '(idle)') idle += us;
  fnAgg.set(label(n), (fnAgg.get(label(n)) ?? 0) + us);
  const pkg = where(n.callFrame.url);
  pkgAgg.set(pkg, (pkgAgg.get(pkg) ?? 0) + us);
  for (const key of new Set(stackOf(id).map(label))) inclAgg.set(key, (inclAgg.get(key) ?? 0) + us);
});
const show = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(7)} s  ${k}`)
    .join('\n');
console.log(
  `sampled ${(total / 1e6).toFixed(2)} s (idle ${((100 * idle) / Math.max(1, total)).toFixed(1)} %)` +
    `\n\n== self time by function ==\n${show(fnAgg)}\n\n== self time by package / file ==\n${show(pkgAgg)}` +
    `\n\n== total time by function (callees included) ==\n${show(inclAgg)}`,
);

// Long tasks: runs of consecutive busy samples (no idle sample between), the longest first, each
// with the frames that took most of it. These are the event-loop stalls behind tail latencies.
if (o['long-tasks']) {
  const runs: Array<{ start: number; us: number; first: number; last: number }> = [];
  let cur: { start: number; us: number; first: number; last: number } | undefined;
  prof.samples.forEach((id, i) => {
    if (at[i]! < from || at[i]! > to) return;
    const isIdle = byId.get(id)!.callFrame.functionName === '(idle)';
    if (isIdle) {
      if (cur) runs.push(cur);
      cur = undefined;
      return;
    }
    cur ??= { start: at[i]!, us: 0, first: i, last: i };
    cur.us += prof.timeDeltas[i] ?? 0;
    cur.last = i;
  });
  if (cur) runs.push(cur);
  runs.sort((a, b) => b.us - a.us);
  for (const r of runs.slice(0, Number(o['long-tasks']))) {
    const agg = new Map<string, number>();
    for (let i = r.first; i <= r.last; i++) {
      const us = prof.timeDeltas[i] ?? 0;
      for (const key of new Set(stackOf(prof.samples[i]!).map(label))) agg.set(key, (agg.get(key) ?? 0) + us);
    }
    const topFrames = [...agg]
      .filter(([k]) => !/^\((root|program)\)|processTicksAndRejections|runMicrotasks/.test(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, us]) => `      ${(us / 1000).toFixed(1).padStart(6)} ms  ${k}`)
      .join('\n');
    console.log(`\n-- ${(r.us / 1000).toFixed(1)} ms busy at +${((r.start - from) / 1e6).toFixed(2)} s\n${topFrames}`);
  }
}
