import { type LiveAudioDecoder, type OpusHeadInfo, type OpusPacket, pcmMs } from '../audio/index.js';
import { AppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import type { RecordingService } from '../recordings/service.js';
import type { DictationRepository, ResumableTranscription } from './dictation-repo.js';
import type { PreviousAudio } from './session-recording.js';
import type { StartRequest } from './types.js';

/**
 * Most audio a continuation after a crash transcribes again: from the end of the last final the dead
 * task stored. A minute covers any utterance; the engine takes it faster than real time.
 */
export const MAX_REPLAY_MS = 60_000;

/**
 * Continuing here a session another task held (session-manager.ts, docs/resilience.md): after that
 * task's shutdown (from its completed recording part) or its crash (from the durable checkpoints).
 * The manager supplies admission and the launch; this decides what to launch with.
 */

/** What the manager's launch builds a session from: a new session, or a continuation. */
export interface LaunchRequest {
  sessionId: string;
  specialty: StartRequest['specialty'];
  type: StartRequest['type'];
  encoding: 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
  sampleRate?: number | undefined;
  channels?: number | undefined;
  create: (sessionId: string) => Promise<{ id: string }>;
  /**
   * A continuation. After a shutdown: `previousPcm` from the completed part. After a crash: the
   * durable checkpoints' audio, `previousPcm` (WAV) or `previousWire` (Opus chunks as received,
   * replayed here through the new decoder), and `trim` to re-transcribe what the dead task's
   * engine had not finalised.
   */
  resume?: { ackSeq: number; audioMs: number; part: number; previousPcm?: Buffer; previousWire?: Buffer; trim?: boolean };
}

/** What a continuation needs from the session manager. */
export interface ContinuationHost {
  repo: DictationRepository;
  recordings: RecordingService;
  limits: { resumeGraceMs: number; taskDeadAfterMs?: number };
  taskId: string;
  logger: Logger;
  requestHandoff?: (userId: string, sessionId: string) => Promise<boolean>;
  /** @throws AppError `too_many_sessions`, `capacity_exceeded` */
  checkAdmission(userId: string): void;
  launch(userId: string, p: LaunchRequest): Promise<{ sessionId: string; transcriptionId: string }>;
}

/**
 * Continues here a session another task ended with `server_shutdown` (docs/resilience.md): the
 * row is claimed atomically, the engine stream starts at the stored timeline position, and the
 * new recording part begins with the earlier part's audio. PCM sessions only: an Opus stream
 * cannot be decoded from its middle.
 * @throws AppError `session_not_found`, `session_ended`, `storage_unavailable` (retryable),
 *   `too_many_sessions`, `capacity_exceeded`
 */
export async function continueFromShutdown(host: ContinuationHost, userId: string, sessionId: string): Promise<void> {
  const deadAfterMs = host.limits.taskDeadAfterMs ?? 10_000;
  let row = await host.repo.findResumable(sessionId, userId, host.limits.resumeGraceMs, deadAfterMs);
  // Still live on a task that is alive: ask it to hand the session over (it tells its client,
  // ends and stores the session with server_shutdown), then continue it here.
  if (row?.state === 'owner_alive' && (await host.requestHandoff?.(userId, sessionId).catch(() => false))) {
    row = await host.repo.findResumable(sessionId, userId, host.limits.resumeGraceMs, deadAfterMs);
  }
  if (!row) throw new AppError('session_not_found');
  // Still live on a task that is alive (a network drop that reached another task), or on one that
  // has just died and is not yet known to be dead: the client retries.
  if (row.state === 'owner_alive') throw new AppError('session_moving');
  if (row.state === 'crashed') return continueFromCrash(host, userId, sessionId, row);
  if (row.encoding !== 'pcm_s16le') throw new AppError('session_ended', 'This session cannot continue on another server; start a new one.');
  // Before reading the whole earlier recording; `launch` checks again when it reserves.
  host.checkAdmission(userId);
  const previousPcm = await host.recordings.readCompletedPcm(row.id).catch((err: unknown) => {
    throw err instanceof AppError && err.code === 'not_found' ? new AppError('storage_unavailable', 'The recording is still being saved; try again.', { retryable: true }) : err;
  });
  if (!(await host.repo.claimForResume(row.id, host.taskId, row.resumePart))) throw new AppError('session_ended');
  try {
    await host.launch(userId, {
      ...continuing(sessionId, row),
      resume: { ackSeq: row.ackSeq, audioMs: row.audioMs, part: row.resumePart + 1, previousPcm },
    });
  } catch (err) {
    await host.repo.releaseClaim(row.id, row.resumePart).catch(() => {});
    throw err;
  }
}

/** What a continuation launches with besides its resume point: the session as it was started. */
function continuing(sessionId: string, row: ResumableTranscription) {
  return {
    sessionId,
    specialty: row.specialty,
    type: row.type,
    encoding: row.encoding,
    sampleRate: row.sampleRate ?? 16000,
    create: async () => ({ id: row.id }),
  };
}

/**
 * Continues here a session whose task died (no SIGTERM, its disk possibly gone): from its durable
 * checkpoints (docs/recordings.md), claimed atomically; the client resends from `durableSeq + 1`.
 * The dead task's unfinished recording part is abandoned: the new part holds the whole recording.
 * @throws AppError `session_moving` (another task claimed it first), `storage_unavailable`,
 *   `too_many_sessions`, `capacity_exceeded`, `transcriber_unavailable`
 */
async function continueFromCrash(host: ContinuationHost, userId: string, sessionId: string, row: ResumableTranscription): Promise<void> {
  host.checkAdmission(userId);
  if (!(await host.repo.claimCrashed(row.id, host.taskId, row.resumePart))) throw new AppError('session_moving');
  try {
    // Read after the claim: a checkpoint the old owner stored before it is in the chain, and the
    // old owner can store none after it (its inserts are fenced by owner), so the client is never
    // told a seq is durable that this continuation does not hold.
    const durable = await host.recordings.readDurable(row.id);
    await host.recordings.abandonUnfinished(row.id);
    const wire = durable.kind === 'wire';
    await host.launch(userId, {
      ...continuing(sessionId, row),
      resume: {
        ackSeq: durable.lastSeq,
        audioMs: wire ? 0 : pcmMs(durable.bytes.length),
        part: row.resumePart + 1,
        ...(wire ? { previousWire: durable.bytes } : { previousPcm: durable.bytes }),
        trim: true,
      },
    });
    host.logger.warn({ sessionId, transcriptionId: row.id, durableSeq: durable.lastSeq, lostAckSeq: row.ackSeq }, 'session_continued_after_crash');
  } catch (err) {
    await host.repo.releaseCrashedClaim(row.id, host.taskId, row.resumePart).catch(() => {});
    throw err;
  }
}

/**
 * Where a launch starts from. A new session: the start of the timeline. A continuation: its resume
 * point; after a crash with Opus, the dead task's durable chunks replayed through `decoder` (its
 * demuxer and Opus state then continue at the chunk boundary the client resends from; the packets
 * and head go into the new recording part, the PCM's length is the timeline); with `trim`, the
 * engine hears again what the dead task's engine had not finalised (`trimTo(audioMs)` drops those
 * segments and returns where the last stored final ends).
 */
export async function resumePoint(
  decoder: LiveAudioDecoder,
  request: LaunchRequest['resume'],
  trimTo: (audioMs: number) => Promise<number>,
): Promise<{ resume: LaunchRequest['resume']; offsetMs: number; enginePrefill?: Buffer; previous: PreviousAudio }> {
  let resume = request;
  let enginePrefill: Buffer | undefined;
  let offsetMs = resume?.audioMs ?? 0;
  const packets: OpusPacket[] = [];
  let head: OpusHeadInfo | undefined;
  if (resume?.previousWire) {
    const tail: Buffer[] = [];
    let tailBytes = 0;
    let pcmBytes = 0;
    for (let i = 0; i < resume.previousWire.length; i += 64 * 1024) {
      const out = decoder.push(resume.previousWire.subarray(i, i + 64 * 1024));
      head ??= out.head;
      for (const packet of out.packets) packets.push(packet);
      const pcm = out.pcm instanceof Promise ? await out.pcm : out.pcm;
      pcmBytes += pcm.length;
      tail.push(pcm);
      tailBytes += pcm.length;
      while (tailBytes - tail[0]!.length >= MAX_REPLAY_MS * 32) tailBytes -= tail.shift()!.length;
    }
    resume = { ...resume, audioMs: pcmMs(pcmBytes) };
    enginePrefill = Buffer.concat(tail);
  } else if (resume?.trim && resume.previousPcm) {
    enginePrefill = resume.previousPcm.subarray(Math.max(0, resume.previousPcm.length - MAX_REPLAY_MS * 32));
  }
  if (resume?.trim) {
    offsetMs = await trimTo(resume.audioMs);
    const prefill = enginePrefill ?? Buffer.alloc(0);
    // From the end of the last final the dead task stored to where the durable audio ends.
    const keep = Math.max(0, Math.round((resume.audioMs - offsetMs) * 16)) * 2;
    enginePrefill = prefill.subarray(Math.max(0, prefill.length - keep));
    offsetMs = resume.audioMs - pcmMs(enginePrefill.length);
  }
  const previous: PreviousAudio = { ...(resume?.previousPcm ? { pcm: resume.previousPcm } : {}), packets, ...(head ? { head } : {}) };
  return { resume, offsetMs, ...(enginePrefill ? { enginePrefill } : {}), previous };
}
