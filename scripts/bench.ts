/**
 * Live-session benchmark: `npm run bench -- [--sessions N] [--seconds S] [--engine aws|local]
 *   [--encoding pcm_s16le|webm_opus|ogg_opus] [--chunk-ms 200] [--ramp-seconds 0.2] [--engine-delay-ms 0] [--cpu-prof DIR]
 *   [--node-arg=--trace-gc ...] [--service-output FILE] [--reference] [--embedded-store]
 *   [--search [--search-start 2 --search-step 2 --search-max 40]]`
 *
 * Starts the service as a child process on embedded defaults (temp DATA_DIR, its own PostgreSQL),
 * recording to an S3-API store in a process of its own (scripts/lib/object-store.ts; with
 * `--embedded-store` the one `npm start` runs in a worker thread of the service); for `aws` also a local HTTP/2 server speaking Transcribe's event-stream protocol
 * (test/support/transcribe-server.ts) that answers with scripted text at a fixed pace. Creates users
 * with the CLI, then runs scripts/bench-load.ts in a separate process (N socket.io-client sessions
 * paced at real time) while sampling the service's CPU and memory from /proc.
 *
 * Progress goes to stderr; the last stdout line is one JSON object (see BENCHMARKS.md). Traffic
 * stays on 127.0.0.1; every child is killed on exit, error or signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { freePort } from '../src/lib/free-port.js';
import { SERVICE_V8_FLAGS } from '../src/lib/node-flags.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { watchServiceOutput } from '../test/support/process.js';
import { startTranscribeServer, type TranscribeServer } from '../test/support/transcribe-server.js';
import type { LoadPlan } from './bench-load.js';
import { cpuSeconds, pidsOf, readPostmasterPid, rssPeakKb, treeRssKb } from './lib/proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The key pair the service signs with and the object store checks. */
const STORE_KEY = { accessKeyId: 'AROGYABENCH', secretAccessKey: randomBytes(30).toString('base64url') };
/** The object store's process while it runs (its CPU is the harness's). */
let objectStorePid: number | undefined;
/** The Transcribe stand-in (`--engine aws`): what it received is counted per run. */
let standIn: TranscribeServer | undefined;
const standInEvents = () => (standIn?.requests ?? []).reduce((n, r) => n + r.audioEvents, 0);

const { values: a } = parseArgs({
  options: {
    sessions: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    engine: { type: 'string', default: 'aws' },
    encoding: { type: 'string', default: 'pcm_s16le' },
    'chunk-ms': { type: 'string', default: '200' },
    'ramp-seconds': { type: 'string' },
    'engine-delay-ms': { type: 'string', default: '0' },
    'cpu-prof': { type: 'string' },
    'node-arg': { type: 'string', multiple: true },
    'service-output': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    users: { type: 'string' },
    'start-concurrency': { type: 'string' },
    reference: { type: 'boolean', default: false },
    'embedded-store': { type: 'boolean', default: false },
    search: { type: 'boolean', default: false },
    'search-start': { type: 'string', default: '2' },
    'search-step': { type: 'string', default: '2' },
    'search-max': { type: 'string', default: '40' },
    'partial-lag-max-ms': { type: 'string', default: '1000' },
  },
});

const engine = a.engine === 'local' ? 'local' : 'aws';
if (a.reference && (engine !== 'aws' || a.search)) throw new Error('--reference needs --engine aws and no --search (the relay streams to the Transcribe stand-in)');
const encoding = a.encoding === 'webm_opus' || a.encoding === 'ogg_opus' ? a.encoding : 'pcm_s16le';
const seconds = Number(a.seconds);
const chunkMs = Number(a['chunk-ms']);
const engineDelayMs = Number(a['engine-delay-ms']);
// Streaming starts are spread over one chunk interval unless told otherwise: every session is live
// from the first second (the worst case for a task that has just started).
const rampMs = a['ramp-seconds'] !== undefined ? Number(a['ramp-seconds']) * 1000 : chunkMs;
const sessionsArg = a.sessions ? Number(a.sessions) : undefined;
if (!(seconds > 0 && seconds <= 3600) || !(chunkMs >= 20 && chunkMs <= 1000) || !(rampMs >= 0 && rampMs <= 600_000)) throw new Error('--seconds 1..3600, --chunk-ms 20..1000, --ramp-seconds 0..600');

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void> | void> = [];


function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

interface ServiceChild {
  proc: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<number | null>;
}

interface ObjectStore {
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}

/** scripts/lib/object-store.ts in a child process: the S3-API store the service records to. */
async function startObjectStore(dir: string): Promise<ObjectStore> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'lib', 'object-store.ts')], {
    cwd: ROOT,
    env: { ...process.env, STORE_DIR: dir, STORE_KEY_ID: STORE_KEY.accessKeyId, STORE_SECRET: STORE_KEY.secretAccessKey },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(proc);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = await new Promise<{ endpoint: string; bucket: string }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as { endpoint: string; bucket: string });
    });
    proc.once('exit', (code) => reject(new Error(`the object store exited before it was ready (code ${code})`)));
  });
  objectStorePid = proc.pid;
  return {
    ...ready,
    close: async () => {
      objectStorePid = undefined;
      proc.stdin!.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
      await exited;
      clearTimeout(timer);
      children.delete(proc);
    },
  };
}

async function startServiceProcess(env: Record<string, string>, nodeArgs: string[], entry = 'src/main.ts'): Promise<ServiceChild> {
  const port = await freePort();
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'development', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  const tee = a['service-output'] && entry === 'src/main.ts' ? fs.createWriteStream(a['service-output']) : undefined;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.on('error', () => {});
  // Keep only warnings and errors (level 40+) and the lines the bench reads; drop the rest.
  const { lines, ready } = watchServiceOutput(proc, exited, { timeoutMs: 120_000, tee, keep: (l) => /"level":"(warn|error|fatal)"/.test(l) });
  await ready;
  return { proc, url: `http://127.0.0.1:${port}`, lines, exited };
}

function runCli(args: string[], env: Record<string, string>, stdin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'arogya-live.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
    children.add(proc);
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      children.delete(proc);
      if (code === 0) resolve();
      else reject(new Error(`arogya-live ${args.join(' ')} exited ${code}: ${err}`));
    });
    proc.stdin.end(stdin);
  });
}

async function createUsers(count: number, env: Record<string, string>): Promise<Array<{ username: string; password: string }>> {
  const users = Array.from({ length: count }, (_, i) => ({ username: `bench-clinician-${i}`, password: `bench-password-${i}-${process.pid}` }));
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const u = users[next++]!;
      await runCli(['users', 'add', '--username', u.username, '--role', 'clinician', '--password-stdin'], env, u.password);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, count) }, worker));
  return users;
}

async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** A histogram's quantile from its cumulative buckets (upper bound of the bucket it falls in). */
function histQuantile(m: Map<string, number>, name: string, q: number, before?: Map<string, number>): number | null {
  const buckets: Array<[number, number]> = [];
  for (const [k, v] of m) {
    const match = k.match(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`));
    if (match) buckets.push([match[1] === '+Inf' ? Infinity : Number(match[1]), v - (before?.get(k) ?? 0)]);
  }
  buckets.sort((x, y) => x[0] - y[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  for (const [le, c] of buckets) if (c >= q * total) return le;
  return null;
}

interface RunResult {
  load: Record<string, unknown> & { chunksLost: number; sessionsStarted: number; partialLatencyMs: { p95: number | null } };
  server: Record<string, unknown>;
}

/** One load run of `sessions` against the running service, with /proc sampling during streaming. */
/** CPU after the cold start: from this long after streaming began to its end. */
const STEADY_AFTER_MS = 5000;

async function runLoad(svc: ServiceChild, users: Array<{ username: string; password: string }>, sessions: number, dataDir: string, o: { metrics: boolean } = { metrics: true }): Promise<RunResult> {
  const plan: LoadPlan = { url: svc.url, sessions, seconds, encoding, chunkMs, users, rampMs, coldMs: 5000, deadlineMs: (seconds + rampMs / 1000 + 240) * 1000, ...(a['start-concurrency'] ? { startConcurrency: Number(a['start-concurrency']) } : {}) };
  const load = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'bench-load.ts')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(load);
  load.stdin.end(JSON.stringify(plan));
  const eventsBefore = standInEvents();
  const servicePid = svc.proc.pid!;
  const pgPid = readPostmasterPid(dataDir);
  let last: string | undefined;
  type Sample = { t: number; svc: number; pg: number; load: number; own: number; store: number };
  let phaseStart: Sample | undefined;
  let phaseEnd: Sample | undefined;
  let startSignal: Sample | undefined;
  let steadyStart: Sample | undefined;
  let steadyTimer: NodeJS.Timeout | undefined;
  let metricsBefore: Map<string, number> | undefined;
  let pgRssPeakKb = 0;
  let svcRssPeakKb = 0;
  const loadPid = load.pid!;
  const sample = () => {
    const t = performance.now();
    const own = process.cpuUsage();
    const loadCpu = cpuSeconds(pidsOf(loadPid), loadPid);
    const svcPids = pidsOf(servicePid, pgPid ? [pgPid] : []);
    const pgPids = pgPid ? pidsOf(pgPid) : [];
    svcRssPeakKb = Math.max(svcRssPeakKb, treeRssKb(svcPids, 'rss'));
    pgRssPeakKb = Math.max(pgRssPeakKb, treeRssKb(pgPids, 'pss'));
    const storeCpu = objectStorePid ? cpuSeconds(pidsOf(objectStorePid), objectStorePid) : 0;
    return { t, svc: cpuSeconds(svcPids, servicePid), pg: cpuSeconds(pgPids, pgPid), load: loadCpu, own: (own.user + own.system) / 1e6, store: storeCpu };
  };
  const sampler = setInterval(sample, 1000);
  const phases: Promise<void>[] = [];
  let buf = '';
  load.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      last = line;
      const msg = JSON.parse(line) as { phase?: string };
      if (msg.phase === 'starting') startSignal = sample();
      else if (msg.phase === 'streaming') {
        log(`streaming: ${line}`);
        if (o.metrics) phases.push(scrapeMetrics(svc.url).then((m) => void (metricsBefore = m)));
        phaseStart = sample();
        steadyTimer = setTimeout(() => (steadyStart = sample()), STEADY_AFTER_MS);
      } else if (msg.phase === 'stopping') {
        clearTimeout(steadyTimer);
        phaseEnd = sample();
        log('streaming done, stopping sessions');
      }
    }
  });
  const code = await new Promise<number | null>((resolve) => load.once('exit', resolve));
  // Every session stopped (its stop acked): the end of what a session costs.
  const allStopped = sample();
  children.delete(load);
  clearInterval(sampler);
  clearTimeout(steadyTimer);
  await Promise.all(phases);
  if (code !== 0 || !last) throw new Error(`bench-load exited ${code}`);
  const metricsAfter = o.metrics ? await scrapeMetrics(svc.url) : new Map<string, number>();
  const result = JSON.parse(last) as RunResult['load'];
  const wall = phaseStart && phaseEnd ? (phaseEnd.t - phaseStart.t) / 1000 : NaN;
  const cores = (x: number) => Math.round((x / wall) * 1000) / 1000;
  const svcCores = phaseStart && phaseEnd ? cores(phaseEnd.svc - phaseStart.svc) : null;
  const pgCores = phaseStart && phaseEnd ? cores(phaseEnd.pg - phaseStart.pg) : null;
  const captionServer = (q: number) => histQuantile(metricsAfter, 'arogya_caption_latency_ms', q, metricsBefore);
  const ackServer = (q: number) => histQuantile(metricsAfter, 'arogya_chunk_ack_latency_ms', q, metricsBefore);
  const round = (x: number, d = 1000) => Math.round(x * d) / d;
  const between = (x: Sample | undefined, y: Sample | undefined) => (x && y && y.t > x.t ? { service: round((y.svc - x.svc) / ((y.t - x.t) / 1000)), postgres: round((y.pg - x.pg) / ((y.t - x.t) / 1000)), total: round((y.svc + y.pg - x.svc - x.pg) / ((y.t - x.t) / 1000)), overSeconds: round((y.t - x.t) / 1000, 10) } : null);
  const started = (result as { sessionsStarted?: number }).sessionsStarted ?? 0;
  const chunksSent = (result as { chunksSent?: number }).chunksSent ?? 0;
  const server = {
    // From STEADY_AFTER_MS into streaming to its end: the cost once every session is past its cold start.
    cpuCoresSteady: between(steadyStart, phaseEnd),
    // CPU from the start signal to the last stop acked (start, stream, stop), per session started.
    cpuMsPerSession: startSignal && started > 0 ? { service: round(((allStopped.svc - startSignal.svc) * 1000) / started, 10), postgres: round(((allStopped.pg - startSignal.pg) * 1000) / started, 10), total: round(((allStopped.svc + allStopped.pg - startSignal.svc - startSignal.pg) * 1000) / started, 10) } : null,
    cpuCores: { service: svcCores, postgres: pgCores, total: svcCores !== null && pgCores !== null ? Math.round((svcCores + pgCores) * 1000) / 1000 : null, overSeconds: Math.round(wall * 10) / 10 },
    // Not the service's, but on the same cores: the load generator and this process (Transcribe stand-in).
    harnessCpuCores: phaseStart && phaseEnd ? { loadGenerator: cores(phaseEnd.load - phaseStart.load), transcribeStandIn: cores(phaseEnd.own - phaseStart.own), ...(objectStorePid ? { objectStore: cores(phaseEnd.store - phaseStart.store) } : {}) } : null,
    rssPeakMb: { service: Math.round(Math.max(svcRssPeakKb, rssPeakKb(servicePid)) / 1024), postgresPss: Math.round(pgRssPeakKb / 1024) },
    eventLoopDelayP99Ms: metricsAfter.get('arogya_event_loop_delay_ms{stat="p99"}') ?? null,
    eventLoopDelayMaxMs: metricsAfter.get('arogya_event_loop_delay_ms{stat="max"}') ?? null,
    // Server-side histograms (bucket upper bounds): audio at a final's end reaching the engine → final emitted.
    captionLatencyServerMs: { p50: captionServer(0.5), p95: captionServer(0.95), p99: captionServer(0.99) },
    chunkAckServerMs: { p50: ackServer(0.5), p95: ackServer(0.95), p99: ackServer(0.99) },
    engineErrors: [...metricsAfter].filter(([k]) => k.startsWith('arogya_engine_errors_total')).reduce((s, [, v]) => s + v, 0),
    // Audio events the Transcribe stand-in received per chunk sent (each is signed, CRC'd and framed).
    transcribeEventsPerChunk: standIn && chunksSent > 0 ? round((standInEvents() - eventsBefore) / chunksSent, 100) : null,
  };
  return { load: result, server };
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-bench-'));
  fs.chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  // If the service died without stopping its PostgreSQL, stop that one (we started it).
  cleanups.push(() => {
    const pid = readPostmasterPid(dataDir);
    if (pid) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        /* already gone */
      }
    }
  });
  let transcribe: TranscribeServer | undefined;
  let store: ObjectStore | undefined;
  const maxSessions = a.search ? Number(a['search-max']) : (sessionsArg ?? (engine === 'aws' ? 100 : 8));
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    LOG_LEVEL: a['log-level']!,
    TRANSCRIBE_ENGINE: engine,
    MAX_SESSIONS: String(Math.max(100, maxSessions)),
    LOGIN_MAX_PER_IP: '100000',
    AWS_REGION: 'us-east-1',
    // One key pair for both stand-ins: the object store checks it, the Transcribe stand-in takes any.
    AWS_ACCESS_KEY_ID: STORE_KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: STORE_KEY.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  if (engine === 'aws') {
    // decodeOpus false: the stand-in is a remote service; its Opus decoding is not to run on the
    // cores it measures (Ogg pages are still checked, and durations heard).
    transcribe = await startTranscribeServer({ timeline: 'audio', resultDelayMs: engineDelayMs, wordsPerSecond: 2.5, wordsPerSegment: 6, partialEveryMs: 300, decodeOpus: false });
    cleanups.push(() => transcribe?.close());
    standIn = transcribe;
    env.AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING = transcribe.url;
  }
  // S3 is a service apart from the task: the store runs in a process of its own and its CPU is the
  // harness's, like the Transcribe stand-in's. --embedded-store keeps `npm start`'s store, a worker
  // thread of the service process (~0.11 core at 100 sessions, counted as the service's).
  if (!a['embedded-store']) {
    store = await startObjectStore(path.join(root, 'store'));
    cleanups.push(() => store?.close());
    Object.assign(env, { S3_BUCKET: store.bucket, AWS_ENDPOINT_URL_S3: store.endpoint });
  }
  // The service's own V8 options first (as npm start and the image run it); --node-arg may override them.
  const nodeArgs: string[] = [...SERVICE_V8_FLAGS, ...(a['node-arg'] ?? [])];
  if (a['cpu-prof']) {
    fs.mkdirSync(a['cpu-prof'], { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(a['cpu-prof'])}`);
  }
  // loadAverage1m: other work on the same cores skews every figure; it is recorded, not subtracted.
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version, platform: `${os.type()} ${os.release()}`, loadAverage1mAtStart: os.loadavg()[0] };
  log(`starting the service (${engine} engine) in ${dataDir}`);
  const svc = await startServiceProcess(env, nodeArgs);
  try {
    // Enough clinicians that none goes over the service's per-user limits (MAX_SESSIONS_PER_USER,
    // default 4, and MAX_ENGINE_STREAMS_PER_USER, default 4).
    const perUser = Math.min(Number(process.env.MAX_SESSIONS_PER_USER) || 4, Number(process.env.MAX_ENGINE_STREAMS_PER_USER) || 4);
    const userCount = a.users ? Math.max(1, Number(a.users)) : Math.max(Math.min(maxSessions, 10), Math.ceil(maxSessions / perUser));
    log(`creating ${userCount} users with the CLI`);
    const users = await createUsers(userCount, env);
    const common = { engine, encoding, seconds, chunkMs, rampSeconds: rampMs / 1000, engineDelayMs: engine === 'aws' ? engineDelayMs : null, machine, logLevel: a['log-level'] };
    if (!a.search) {
      const n = sessionsArg ?? (engine === 'aws' ? 100 : 8);
      log(`${n} sessions × ${seconds} s`);
      const r = await runLoad(svc, users, n, dataDir);
      const captionP = r.load.captionLatencyMs as { p50: number | null; p95: number | null; p99: number | null };
      const added = (v: number | null) => (v === null ? null : Math.round((v - (engine === 'aws' ? engineDelayMs : 0)) * 10) / 10);
      const summary = {
        ...common,
        loadAverage1mAtEnd: os.loadavg()[0],
        sessions: n,
        ...r.load,
        // For aws the scripted engine answers `engineDelayMs` after the audio: the rest is ours.
        captionLatencyServerAddedMs: engine === 'aws' ? { p50: added(captionP.p50), p95: added(captionP.p95), p99: added(captionP.p99) } : null,
        ...r.server,
        serviceWarnings: countByMsg(svc.lines.filter((l) => l.includes('"level":"warn"'))),
        serviceErrors: svc.lines.filter((l) => /"level":"(error|fatal)"/.test(l)).length,
      };
      await stopService(svc);
      const reference = a.reference ? await runReference(env, nodeArgs, users, n, root) : undefined;
      console.log(JSON.stringify({ ...summary, ...(reference ? compareWithReference(summary, reference) : {}) }));
      return;
    }
    // Search: more sessions until the partial lag p95 or loss says the engine no longer keeps up.
    const limitMs = Number(a['partial-lag-max-ms']);
    const steps: unknown[] = [];
    let best = 0;
    for (let n = Number(a['search-start']); n <= maxSessions; n += Number(a['search-step'])) {
      log(`search: ${n} sessions × ${seconds} s`);
      const r = await runLoad(svc, users, n, dataDir);
      const p95 = r.load.partialLatencyMs.p95;
      const ok = r.load.chunksLost === 0 && r.load.sessionsStarted === n && p95 !== null && p95 <= limitMs;
      steps.push({ sessions: n, ok, partialLagP95Ms: p95, captionLatencyMs: r.load.captionLatencyMs, ackLatencyMs: r.load.ackLatencyMs, chunksLost: r.load.chunksLost, errors: r.load.errors, ...r.server });
      log(`search: ${n} sessions → partial lag p95 ${p95} ms, lost ${r.load.chunksLost}: ${ok ? 'ok' : 'too many'}`);
      if (!ok) break;
      best = n;
    }
    await stopService(svc);
    console.log(JSON.stringify({ ...common, search: { criterion: `partial lag p95 <= ${limitMs} ms and no loss`, maxRealtimeSessions: best, steps } }));
  } finally {
    if (svc.proc.exitCode === null) await stopService(svc);
    for (const c of cleanups.reverse()) await c();
  }
}

/**
 * The same load against the reference relay (scripts/lib/reference-relay.ts: the same libraries, no
 * database, store or decoding), after the service has stopped, with the service's V8 flags.
 */
async function runReference(env: Record<string, string>, nodeArgs: string[], users: Array<{ username: string; password: string }>, n: number, root: string): Promise<RunResult> {
  log(`reference relay: ${n} sessions × ${seconds} s`);
  const relayEnv = { ...env, RELAY_DIR: path.join(root, 'relay'), RELAY_USERS: JSON.stringify(users) };
  const relay = await startServiceProcess(relayEnv, nodeArgs.filter((x) => !x.startsWith('--cpu-prof')), path.join('scripts', 'lib', 'reference-relay.ts'));
  try {
    return await runLoad(relay, users, n, path.join(root, 'relay'), { metrics: false });
  } finally {
    await stopService(relay);
  }
}

type Summary = Record<string, unknown> & RunResult['server'];

/**
 * The relay's figures (`reference`) and the service's cost as multiples of them (`vsReference`):
 * steady cores (after the first 5 s), CPU ms per session, peak RSS and ack p99. The service's cores
 * and CPU include its PostgreSQL (the relay has none); RSS is the node process's alone.
 */
function compareWithReference(svc: Summary, ref: RunResult): Record<string, unknown> {
  const r = ref.server as Summary;
  const refLoad = ref.load as Record<string, unknown>;
  const ratio = (x: number | null | undefined, y: number | null | undefined) => (typeof x === 'number' && typeof y === 'number' && y > 0 ? Math.round((x / y) * 100) / 100 : null);
  const steady = (s: Summary) => (s.cpuCoresSteady as { total: number } | null)?.total;
  const perSession = (s: Summary) => (s.cpuMsPerSession as { total: number } | null)?.total;
  const rss = (s: Summary) => (s.rssPeakMb as { service: number }).service;
  const ackP99 = (s: Record<string, unknown>) => (s.ackLatencyMs as { p99: number | null }).p99;
  // A relay whose sessions failed did less than the job (a refused stream sends nothing on): no
  // ratio is given against it.
  const failed = Object.keys((refLoad.errors as Record<string, number> | undefined) ?? {}).length > 0 || refLoad.chunksLost !== 0;
  return {
    reference: {
      sessionsStarted: refLoad.sessionsStarted,
      chunksLost: refLoad.chunksLost,
      errors: refLoad.errors,
      sessionStartMs: refLoad.sessionStartMs,
      ackLatencyMs: refLoad.ackLatencyMs,
      ackLatencyFirst5sMs: refLoad.ackLatencyFirst5sMs,
      acksOver50msBySecond: refLoad.acksOver50msBySecond,
      finals: refLoad.finals,
      cpuCores: r.cpuCores,
      cpuCoresSteady: r.cpuCoresSteady,
      cpuMsPerSession: r.cpuMsPerSession,
      rssPeakMb: { service: rss(r) },
      harnessCpuCores: r.harnessCpuCores,
      transcribeEventsPerChunk: r.transcribeEventsPerChunk,
      loadAverage1mAtEnd: os.loadavg()[0],
    },
    vsReference: failed
      ? { invalid: `the relay's sessions failed (${JSON.stringify(refLoad.errors)}, ${String(refLoad.chunksLost)} chunks lost): no ratio` }
      : {
          steadyCores: ratio(steady(svc), steady(r)),
          cpuMsPerSession: ratio(perSession(svc), perSession(r)),
          rssPeak: ratio(rss(svc), rss(r)),
          ackP99: ratio(ackP99(svc), ackP99(refLoad)),
        },
  };
}

/** Warning/error log lines by their fixed message string. */
function countByMsg(lines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) {
    const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? 'unknown';
    out[msg] = (out[msg] ?? 0) + 1;
  }
  return out;
}

async function stopService(svc: ServiceChild): Promise<void> {
  if (svc.proc.exitCode !== null || svc.proc.signalCode !== null) return;
  svc.proc.kill('SIGTERM');
  const timer = setTimeout(() => svc.proc.kill('SIGKILL'), 40_000);
  await svc.exited;
  clearTimeout(timer);
  children.delete(svc.proc);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  killAll();
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  process.exit(1);
}
