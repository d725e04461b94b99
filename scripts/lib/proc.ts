/**
 * Linux /proc readings for the benchmark: CPU seconds and memory of a process and its descendants.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Stat {
  ppid: number;
  /** utime + stime, ticks */
  self: number;
  /** cutime + cstime (children already reaped), ticks */
  reaped: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields resume after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), self: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}

/** `root` and every descendant, leaving out the subtrees of `exclude`. */
export function pidsOf(root: number, exclude: number[] = []): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) parent.set(Number(name), st.ppid);
  }
  const out = [root];
  const skip = new Set(exclude);
  for (let i = 0; i < out.length; i++) {
    for (const [pid, pp] of parent) if (pp === out[i] && !skip.has(pid)) out.push(pid);
  }
  return out;
}

/** CPU seconds used by `pids`, plus what `root`'s reaped children used. */
export function cpuSeconds(pids: number[], root?: number): number {
  let ticks = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (!st) continue;
    ticks += st.self;
    if (pid === root) ticks += st.reaped;
  }
  return ticks / CLK_TCK;
}

function statusKb(pid: number, field: string): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Peak resident set of one process (VmHWM), kB. */
export function rssPeakKb(pid: number): number {
  return statusKb(pid, 'VmHWM');
}

/** Resident memory of a process tree now, kB: VmRSS summed, or PSS (shared pages split) for PostgreSQL. */
export function treeRssKb(pids: number[], kind: 'rss' | 'pss'): number {
  let kb = 0;
  for (const pid of pids) {
    if (kind === 'rss') kb += statusKb(pid, 'VmRSS');
    else {
      try {
        const m = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
        kb += m ? Number(m[1]) : 0;
      } catch {
        /* gone */
      }
    }
  }
  return kb;
}

/** The embedded PostgreSQL's postmaster pid under DATA_DIR, if it runs. */
export function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 && readStat(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
