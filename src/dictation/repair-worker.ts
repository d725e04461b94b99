/**
 * The repair pass (docs/resilience.md): stretches of a session the primary engine did not
 * transcribe live (the resilient wrapper reports them: fallback text, or nothing at all) are
 * re-transcribed from the stored recording by the primary engine once it opens a stream again, and
 * their segments replaced in place; the replaced text is kept in `transcript_repairs.replaced`.
 *
 * A background job that survives restarts: stretches live in `transcript_repairs` and are claimed
 * with FOR UPDATE SKIP LOCKED by any task (a restarted task releases what it held at once; a dead
 * task's claims expire). At most `concurrency` repairs run per task, each one engine stream, so
 * live sessions keep the rest of the engine's capacity; a refused stream puts the stretch back with
 * a backoff (the engine is still out). Audio goes to the engine at `speed` times real time.
 */
import type { Readable } from 'node:stream';
import { createLiveDecoder } from '../audio/index.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import { ProviderError, type TranscriptionEngine, type TranscriptResult } from '../transcription/port.js';
import type { ClaimedRepair, RepairedSegment, RepairRepository } from './repair-repo.js';

/** What the worker reads the recording through (RecordingService.openAudio). */
export interface RepairAudioSource {
  openAudio(transcriptionId: string, range?: string): Promise<{ kind: 'full' | 'partial' | 'unsatisfiable'; contentType: string; body?: Readable }>;
}

export interface RepairWorkerOptions {
  repo: RepairRepository;
  recordings: RepairAudioSource;
  /** The primary engine itself, not the resilient wrapper: a repair never uses the fallback. */
  engine: TranscriptionEngine;
  taskId: string;
  logger: Logger;
  /** Repairs running at once on this task; 0 turns the pass off. */
  concurrency: number;
  /** Audio is written at this multiple of real time. */
  speed: number;
  /** How often due stretches are looked for. Default 5000. */
  pollMs?: number;
}

const WAV_HEADER_BYTES = 44;
const FRAME_BYTES = 3200; // 100 ms at 16 kHz s16le
const BYTES_PER_MS = 32;

/** Runs the repair pass on this task: `start()` after migrations, `close()` at shutdown. */
export class RepairWorker {
  private timer?: NodeJS.Timeout;
  private running = 0;
  private polling = false;
  private closed = false;
  private readonly active = new Set<{ abort(): void }>();
  private readonly jobs = new Set<Promise<void>>();
  private readonly log: Logger;

  constructor(private readonly o: RepairWorkerOptions) {
    this.log = o.logger.child({ component: 'repair' });
  }

  async start(): Promise<void> {
    if (this.o.concurrency <= 0) return;
    const released = await this.o.repo.releaseOwn(this.o.taskId);
    if (released > 0) this.log.info({ released }, 'repair_claims_released');
    this.schedule(0);
  }

  /** Looks for due stretches now (e.g. a session just ended). */
  kick(): void {
    if (this.o.concurrency > 0 && !this.closed) this.schedule(0);
  }

  /** Stops claiming, aborts running repairs (they are retried later, here or elsewhere). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const a of this.active) a.abort();
    await Promise.allSettled([...this.jobs]);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    if (this.closed || this.polling) return;
    this.polling = true;
    try {
      const claimed = await this.o.repo.claim(this.o.taskId, this.o.concurrency - this.running);
      for (const c of claimed) {
        this.running += 1;
        const job = this.repair(c).finally(() => {
          this.running -= 1;
          this.jobs.delete(job);
          this.kick();
        });
        this.jobs.add(job);
      }
    } catch (err) {
      this.log.warn({ err: errFields(err) }, 'repair_claim_failed');
    } finally {
      this.polling = false;
      if (!this.timer) this.schedule(this.o.pollMs ?? 5000);
    }
  }

  private async repair(c: ClaimedRepair): Promise<void> {
    const log = this.log.child({ transcriptionId: c.transcriptionId, repairId: c.id });
    const started = Date.now();
    try {
      const window = { ...c, toMs: await this.o.repo.repairEnd(c.transcriptionId, c.toMs) };
      const pcm = await this.readPcm(window);
      const segments = await this.transcribe(window, pcm);
      const done = await this.o.repo.complete(c.id, this.o.taskId, this.o.engine.name, segments, window.toMs);
      if (done) log.info({ fromMs: c.fromMs, toMs: window.toMs, replaced: done.replaced, added: done.added, ms: Date.now() - started }, 'repair_done');
    } catch (err) {
      const pe = err instanceof ProviderError ? err : undefined;
      const code = pe?.code ?? (err as { code?: string }).code ?? 'repair_failed';
      // Engine refusals and storage trouble pass; anything else is retried too, a little later.
      const retryable = pe ? pe.retryable : true;
      const delayMs = Math.min(300_000, 2000 * 2 ** Math.min(8, c.attempts - 1));
      log.warn({ code, retryable, attempts: c.attempts }, 'repair_attempt_failed');
      await this.o.repo.release(c.id, this.o.taskId, { code, retryable, delayMs }).catch(() => {});
    }
  }

  /**
   * The stretch's 16 kHz PCM from the stored recording. WAV: one ranged read. Ogg Opus: an Opus
   * stream cannot be decoded from its middle (each packet's decoding depends on the ones before),
   * so the object is read from its start and decoded, in the shared Opus worker thread, until the
   * stretch's end; only the stretch's PCM is kept. The decoder is the one the live session used
   * (same packets, same pre-skip), so the PCM is on the session's timeline. Cost: decoding an
   * hour of Opus is a few CPU-seconds off the event loop; the object is ~15 MB per hour.
   */
  private async readPcm(c: ClaimedRepair): Promise<Buffer> {
    const from = WAV_HEADER_BYTES + c.fromMs * BYTES_PER_MS;
    const to = WAV_HEADER_BYTES + c.toMs * BYTES_PER_MS - 1;
    const audio = await this.o.recordings.openAudio(c.transcriptionId, `bytes=${from}-${to}`);
    if (!/wav/.test(audio.contentType)) {
      audio.body?.destroy();
      if (/ogg/.test(audio.contentType)) return decodeOggWindow((await this.o.recordings.openAudio(c.transcriptionId)).body, c.fromMs, c.toMs);
      throw new ProviderError('recording is neither WAV nor Ogg', { retryable: false, code: 'repair_unsupported_recording' });
    }
    if (!audio.body || audio.kind === 'unsatisfiable') return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for await (const chunk of audio.body) parts.push(chunk as Buffer);
    const pcm = Buffer.concat(parts);
    return pcm.subarray(0, pcm.length - (pcm.length % 2));
  }

  /** Runs the stretch through one primary stream; finals shifted to session time. */
  private async transcribe(c: ClaimedRepair, pcm: Buffer): Promise<RepairedSegment[]> {
    const stream = await this.o.engine.start({ sampleRate: 16000, specialty: c.specialty, type: c.type, languageCode: 'en-US', sessionId: `repair-${c.id}` });
    const handle = { abort: () => stream.abort(new Error('repair worker closed')) };
    this.active.add(handle);
    const finals: TranscriptResult[] = [];
    const key = `r${c.fromMs}-`;
    try {
      const reading = (async () => {
        for await (const r of stream) if (r.kind === 'final' && r.text.trim() !== '') finals.push(r);
      })();
      reading.catch(() => {}); // awaited below; a failure must not be unhandled meanwhile
      const t0 = Date.now();
      for (let i = 0; i < pcm.length && !this.closed; i += FRAME_BYTES) {
        stream.write(pcm.subarray(i, i + FRAME_BYTES));
        // Paced at `speed` × real time: the wait is whatever the schedule is ahead of the clock.
        const ahead = (i + FRAME_BYTES) / BYTES_PER_MS / this.o.speed - (Date.now() - t0);
        if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
      }
      if (this.closed) throw new ProviderError('repair worker closed', { retryable: true, code: 'repair_interrupted' });
      await stream.end();
      await reading;
    } catch (err) {
      stream.abort();
      throw err;
    } finally {
      this.active.delete(handle);
    }
    return finals.map((r) => ({
      segmentKey: key + r.segmentId,
      startMs: c.fromMs + r.startMs,
      endMs: Math.min(c.toMs, c.fromMs + r.endMs),
      text: r.text.trim(),
      speaker: r.speaker,
    }));
  }
}

/**
 * The 16 kHz PCM of [fromMs, toMs) of an Ogg Opus recording read from its start (exported for
 * tests). Stops reading once the window is decoded.
 */
export async function decodeOggWindow(body: Readable | undefined, fromMs: number, toMs: number): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const decoder = await createLiveDecoder({ encoding: 'ogg_opus' });
  const start = fromMs * BYTES_PER_MS;
  const end = toMs * BYTES_PER_MS;
  const kept: Buffer[] = [];
  let at = 0; // PCM bytes decoded so far
  try {
    for await (const chunk of body) {
      const { pcm: out } = decoder.push(chunk as Buffer);
      const pcm = out instanceof Promise ? await out : out;
      const lo = Math.max(start, at);
      const hi = Math.min(end, at + pcm.length);
      if (hi > lo) kept.push(pcm.subarray(lo - at, hi - at));
      at += pcm.length;
      if (at >= end) break;
    }
  } finally {
    body.destroy();
    decoder.end();
  }
  return Buffer.concat(kept);
}
