/**
 * The load generator of `npm run bench` (run by scripts/bench.ts in its own process, so its CPU is
 * never counted as the service's). N real socket.io-client sessions, each logging in over HTTP,
 * starting a live session and streaming real speech paced at real time, then stopping.
 *
 * Input: one JSON object on stdin (see {@link LoadPlan}). Output: progress lines `{"phase":…}` on
 * stdout while it runs, then one JSON object (the {@link LoadResult}) as the last stdout line.
 * Talks only to the given 127.0.0.1 URL; bounded in time by `plan.deadlineMs`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { readReferences, readSharedPcm } from '../test/support/audio.js';
import type { AckResponse } from '../src/realtime/events.js';
import { DictationClient } from '../test/support/dictation-client.js';

export interface LoadPlan {
  url: string;
  sessions: number;
  seconds: number;
  encoding: 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
  chunkMs: number;
  /** Username/password pairs; session i logs in as users[i % users.length]. */
  users: Array<{ username: string; password: string }>;
  /** Streaming starts are spread over this long (one chunk interval: chunks do not arrive in lockstep). */
  rampMs: number;
  /** Acks of chunks sent in each session's first `coldMs` of streaming are also reported apart. */
  coldMs: number;
  /** Hard stop for the whole run. */
  deadlineMs: number;
  /**
   * Sessions connecting and starting at once (default: all of them, "started together", the rush of
   * a task taking over the sessions of one that died). Logins (scrypt on the server) come before, 8
   * at a time, and are not part of a session's start time.
   */
  startConcurrency?: number;
}

export interface SessionStats {
  started: boolean;
  startError?: string;
  chunksSent: number;
  /** Audio bytes in the chunks sent (the payload on the wire, without Socket.IO framing). */
  bytesSent: number;
  chunksAcked: number;
  ackLatMs: number[];
  /** The same, split: chunks sent in the session's first `coldMs` of streaming, and after. */
  ackLatColdMs: number[];
  ackLatWarmMs: number[];
  /** Acks over 50 ms, by the second of the session's audio the chunk belongs to. */
  slowAcksBySecond: number[];
  captionLatMs: number[];
  /**
   * Per chunk: from its ack to the first ack whose `durableSeq` covers it (so up to one chunk
   * interval coarse: the client learns it with the next ack).
   */
  durableLagMs: number[];
  partialLatMs: number[];
  finals: number;
  partials: number;
  audioMsSent: number;
  durationMs?: number;
  /** From the start signal (every session logged in) to its socket connected / to its `session:start` acked. */
  connectedAtMs?: number;
  startedAtMs?: number;
  /** Its own `session:start` request → ack. */
  startAckMs?: number;
  errors: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);

/** The shared real speech, concatenated in an order that depends on `rotation`, looped to `seconds`. */
function speech(seconds: number, rotation: number): Buffer {
  const files = [...readReferences('real').map((r) => `real/${r.file}`), ...readReferences('clinical-synth').map((r) => `clinical-synth/${r.file}`)];
  const need = Math.round(seconds * 32000);
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < need; i++) {
    const pcm = readSharedPcm(files[(rotation + i) % files.length]!);
    parts.push(pcm);
    total += pcm.length;
  }
  return Buffer.concat(parts).subarray(0, need);
}

/** WebM/Opus as MediaRecorder makes it (ffmpeg libopus, written to a pipe: unknown-size clusters), or Ogg Opus. */
async function opus(pcm: Buffer, container: 'webm' | 'ogg'): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-bench-opus-'));
  try {
    const input = path.join(dir, 'in.raw');
    fs.writeFileSync(input, pcm);
    const { stdout } = await run(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', input, '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-f', container, 'pipe:1'],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Chunks of `chunkMs` of audio each. PCM is cut exactly; WebM is cut by byte share of the duration,
 * which is what a MediaRecorder timeslice amounts to (its bytes carry about that much audio).
 */
function chunksOf(bytes: Buffer, seconds: number, chunkMs: number): Buffer[] {
  const n = Math.ceil((seconds * 1000) / chunkMs);
  const per = bytes.length / n;
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(bytes.subarray(Math.round(i * per), Math.round((i + 1) * per)));
  return out;
}

async function login(url: string, username: string, password: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: url },
      body: JSON.stringify({ username, password }),
    });
    if (res.status === 200) {
      const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      return cookie;
    }
    if (res.status === 429 && attempt < 5) {
      await sleep(1000);
      continue;
    }
    throw new Error(`login_${res.status}`);
  }
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! * 10) / 10;
}

const max = (v: number[]) => (v.length === 0 ? null : Math.round(Math.max(...v) * 10) / 10);
const pcts = (v: number[]) => ({ p50: percentile(v, 50), p95: percentile(v, 95), p99: percentile(v, 99), n: v.length });

class BenchSession {
  readonly stats: SessionStats = { started: false, chunksSent: 0, bytesSent: 0, chunksAcked: 0, ackLatMs: [], ackLatColdMs: [], ackLatWarmMs: [], slowAcksBySecond: [], captionLatMs: [], durableLagMs: [], partialLatMs: [], finals: 0, partials: 0, audioMsSent: 0, errors: {} };
  private client?: DictationClient;
  private sessionId?: string;
  /** performance.now() when chunk k was sent. */
  private sentAt: number[] = [];
  private maxAckSeq = -1;
  private maxDurableSeq = -1;
  private readonly ackedAt: number[] = [];
  private outstanding = 0;
  private drained?: () => void;

  constructor(
    private readonly plan: LoadPlan,
    private readonly chunks: Buffer[],
  ) {}

  private err(code: string): void {
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
  }

  /** The send time of the chunk that carried audio position `ms`. */
  private sentTimeOf(ms: number): number | undefined {
    const k = Math.max(0, Math.ceil(ms / this.plan.chunkMs) - 1);
    return this.sentAt[Math.min(k, this.sentAt.length - 1)];
  }

  private cookie?: string;

  useCookie(cookie: string): void {
    this.cookie = cookie;
  }

  async connect(): Promise<void> {
    const cookie = this.cookie!;
    // The tests' typed client, without its record of every event (a long run would keep them all).
    this.client = new DictationClient(this.plan.url, cookie, {}, { record: false });
    const socket = this.client.socket;
    socket.on('transcript:final', (p) => {
      this.stats.finals++;
      const sent = this.sentTimeOf(p.endMs);
      if (sent !== undefined) this.stats.captionLatMs.push(performance.now() - sent);
    });
    socket.on('transcript:partial', (p) => {
      this.stats.partials++;
      const sent = this.sentTimeOf(p.endMs);
      if (sent !== undefined) this.stats.partialLatMs.push(performance.now() - sent);
    });
    socket.on('session:error', (p) => this.err(`session_error:${p.code}`));
    socket.on('session:ended', (p) => {
      if (p.reason !== 'stopped') this.err(`ended:${p.reason}`);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (e) => reject(new Error(`connect_error:${e.message}`)));
    });
  }

  async start(): Promise<void> {
    const t = performance.now();
    const res = await this.client!.request('session:start', {
      title: 'bench',
      specialty: 'PRIMARYCARE',
      type: 'DICTATION',
      audio: this.plan.encoding === 'pcm_s16le' ? { encoding: 'pcm_s16le', sampleRate: 16000 } : { encoding: this.plan.encoding },
    });
    this.stats.startAckMs = performance.now() - t;
    if (!res.ok) throw new Error(res.error.code);
    this.sessionId = res.sessionId;
    this.stats.started = true;
  }

  /** Sends every chunk at real-time pace without waiting for acks (as a browser does). */
  async stream(): Promise<void> {
    const t0 = performance.now();
    for (let k = 0; k < this.chunks.length; k++) {
      const due = t0 + k * this.plan.chunkMs - performance.now();
      if (due > 0) await sleep(due);
      if (!this.client!.socket.connected) {
        this.err('disconnected');
        break;
      }
      const sent = performance.now();
      this.sentAt[k] = sent;
      this.stats.chunksSent++;
      this.stats.audioMsSent += this.plan.chunkMs;
      this.stats.bytesSent += this.chunks[k]!.length;
      this.outstanding++;
      const settled = (res: AckResponse<'audio:chunk'> | undefined) => {
        this.outstanding--;
        if (!res) this.err('ack_timeout');
        else if (res.ok) {
          const ms = performance.now() - sent;
          this.stats.ackLatMs.push(ms);
          (k * this.plan.chunkMs < this.plan.coldMs ? this.stats.ackLatColdMs : this.stats.ackLatWarmMs).push(ms);
          if (ms > 50) {
            const second = Math.floor((k * this.plan.chunkMs) / 1000);
            this.stats.slowAcksBySecond[second] = (this.stats.slowAcksBySecond[second] ?? 0) + 1;
          }
          if (res.ackSeq > this.maxAckSeq) this.maxAckSeq = res.ackSeq;
          const now = performance.now();
          this.ackedAt[k] = now;
          for (let s = this.maxDurableSeq + 1; res.durableSeq !== undefined && s <= res.durableSeq; s++) {
            if (this.ackedAt[s] !== undefined) this.stats.durableLagMs.push(now - this.ackedAt[s]!);
          }
          if (res.durableSeq !== undefined && res.durableSeq > this.maxDurableSeq) this.maxDurableSeq = res.durableSeq;
        } else this.err(`ack:${res.error.code}`);
        if (this.outstanding === 0) this.drained?.();
      };
      // Not awaited: chunks go out at real-time pace whatever the acks do (as a browser sends them).
      this.client!.request('audio:chunk', { sessionId: this.sessionId!, seq: k, data: this.chunks[k]! }, 30_000).then(settled, () => settled(undefined));
    }
    if (this.outstanding > 0) await new Promise<void>((r) => (this.drained = r));
    this.stats.chunksAcked = this.maxAckSeq + 1;
  }

  async stop(): Promise<void> {
    const res = await this.client!.request('session:stop', { sessionId: this.sessionId! }, 60_000);
    if (!res.ok) this.err(`stop:${res.error.code}`);
    else this.stats.durationMs = res.durationMs;
  }

  close(): void {
    this.client?.close();
  }
}

async function main(): Promise<void> {
  const plan = JSON.parse(fs.readFileSync(0, 'utf8')) as LoadPlan;
  const hardStop = setTimeout(() => {
    process.stderr.write('bench-load: deadline reached\n');
    process.exit(3);
  }, plan.deadlineMs);
  hardStop.unref();
  const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  // This process's own stalls delay when acks are seen: reported so they are not taken for the service's.
  const eld = monitorEventLoopDelay({ resolution: 5 });

  // A few different audio orders, shared by the sessions (encoding 100 WebM files would take a while).
  const variants = Math.min(plan.sessions, 4);
  const audio: Buffer[][] = [];
  for (let v = 0; v < variants; v++) {
    const pcm = speech(plan.seconds, v * 7);
    audio.push(chunksOf(plan.encoding === 'pcm_s16le' ? pcm : await opus(pcm, plan.encoding === 'webm_opus' ? 'webm' : 'ogg'), plan.seconds, plan.chunkMs));
  }
  const sessions = Array.from({ length: plan.sessions }, (_, i) => new BenchSession(plan, audio[i % variants]!));
  // Logins are scrypt-heavy on the server (about 8 a second on 2 cores, by design: src/auth/passwords.ts):
  // a few at a time, before the start signal. A task taking over sessions meets clients that already
  // hold a cookie; counting logins in the start time measured the password hash, not the start.
  const pool = async <T>(items: T[], width: number, f: (item: T, i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await f(items[i]!, i);
      }
    }));
  };
  // One login per clinician, its cookie shared by that clinician's sessions (the tabs of one browser).
  const cookies = new Map<number, Promise<string>>();
  await pool(sessions, 8, async (s, i) => {
    const u = i % plan.users.length;
    const user = plan.users[u]!;
    if (!cookies.has(u)) cookies.set(u, login(plan.url, user.username, user.password));
    try {
      s.useCookie(await cookies.get(u)!);
    } catch (err) {
      s.stats.startError = (err as Error).message;
    }
  });
  say({ phase: 'starting', sessions: sessions.length });
  const startT0 = performance.now();
  await pool(sessions, plan.startConcurrency ?? sessions.length, async (s) => {
    if (s.stats.startError) return;
    try {
      await s.connect();
      s.stats.connectedAtMs = performance.now() - startT0;
      await s.start();
      s.stats.startedAtMs = performance.now() - startT0;
    } catch (err) {
      s.stats.startError = (err as Error).message;
    }
  });
  const live = sessions.filter((s) => s.stats.started);
  say({ phase: 'streaming', sessions: live.length });
  eld.enable();
  const t0 = performance.now();
  await Promise.all(
    live.map(async (s, i) => {
      await sleep((plan.rampMs * i) / Math.max(1, live.length));
      await s.stream();
    }),
  );
  const streamMs = performance.now() - t0;
  eld.disable();
  say({ phase: 'stopping' });
  await Promise.all(
    live.map(async (s) => {
      try {
        await s.stop();
      } catch {
        s.stats.errors['stop_timeout'] = (s.stats.errors['stop_timeout'] ?? 0) + 1;
      }
    }),
  );
  for (const s of sessions) s.close();

  const all = sessions.map((s) => s.stats);
  const sum = (f: (s: SessionStats) => number) => all.reduce((a, s) => a + f(s), 0);
  const errors: Record<string, number> = {};
  for (const s of all) {
    if (s.startError) errors[`start:${s.startError}`] = (errors[`start:${s.startError}`] ?? 0) + 1;
    for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  const flat = (f: (s: SessionStats) => number[]) => all.flatMap(f);
  // Stored audio short of what was sent by more than one chunk (a stop ack's durationMs).
  const shortSessions = all.filter((s) => s.started && (s.durationMs === undefined || s.audioMsSent - s.durationMs > plan.chunkMs)).length;
  say({
    sessionsStarted: live.length,
    sessionsFailed: plan.sessions - live.length,
    // Start signal → session:start acked, over the sessions that started; and the parts of it.
    sessionStartMs: { ...pcts(flat((s) => (s.startedAtMs === undefined ? [] : [s.startedAtMs]))), max: max(flat((s) => (s.startedAtMs === undefined ? [] : [s.startedAtMs]))) },
    // How many sessions had started by the end of each second after the start signal.
    sessionsStartedBySecond: (() => {
      const at = flat((s) => (s.startedAtMs === undefined ? [] : [s.startedAtMs]));
      return Array.from({ length: Math.ceil(Math.max(0, ...at) / 1000) }, (_, i) => at.filter((t) => t < (i + 1) * 1000).length);
    })(),
    sessionConnectMs: pcts(flat((s) => (s.connectedAtMs === undefined ? [] : [s.connectedAtMs]))),
    sessionStartAckMs: pcts(flat((s) => (s.startAckMs === undefined ? [] : [s.startAckMs]))),
    streamSeconds: Math.round(streamMs / 100) / 10,
    chunksSent: sum((s) => s.chunksSent),
    chunksAcked: sum((s) => s.chunksAcked),
    chunksLost: sum((s) => s.chunksSent - s.chunksAcked),
    // Audio payload per minute of audio sent, per session: what one consultation puts on the uplink.
    bytesPerSessionMinute: Math.round(sum((s) => s.bytesSent) / Math.max(1e-3, sum((s) => s.audioMsSent) / 60_000)),
    sessionsShortOfAudio: shortSessions,
    finals: sum((s) => s.finals),
    partials: sum((s) => s.partials),
    ackLatencyMs: pcts(flat((s) => s.ackLatMs)),
    [`ackLatencyFirst${plan.coldMs / 1000}sMs`]: pcts(flat((s) => s.ackLatColdMs)),
    [`ackLatencyAfter${plan.coldMs / 1000}sMs`]: pcts(flat((s) => s.ackLatWarmMs)),
    // Where the slow acks are: the first seconds (starts, a cold process) or spread over the run.
    acksOver50msBySecond: Array.from({ length: Math.ceil(plan.seconds) }, (_, i) => sessions.reduce((n, x) => n + (x.stats.slowAcksBySecond[i] ?? 0), 0)),
    captionLatencyMs: pcts(flat((s) => s.captionLatMs)),
    durableLagMs: pcts(flat((s) => s.durableLagMs)),
    partialLatencyMs: pcts(flat((s) => s.partialLatMs)),
    errors,
    loadGeneratorEventLoopDelayMs: { p99: Math.round(eld.percentile(99) / 1e5) / 10, max: Math.round(eld.max / 1e5) / 10 },
  });
  process.exit(0);
}

await main();
