/**
 * Sessions whose task died and whose client never came back (docs/resilience.md, "Crash, and no
 * client"). A task that dies (SIGKILL, OOM, host or Spot loss) leaves its live sessions `recording`.
 * When the client resumes elsewhere, that task continues the session from its durable checkpoints
 * (session-manager `continueFromCrash`). When it does not (the tab was closed, the laptop went to
 * sleep), every task looks every `intervalMs` for such sessions: owner without a heartbeat for
 * `deadAfterMs`, and no sign of life (owner heartbeat, audio) for `graceMs` (RESUME_GRACE_MS, the
 * time a client has to resume). One task claims each (the same atomic claim a resume makes) and
 * finalises it from what is durable:
 * - the recording: a new part holding the durable checkpoints' audio (PCM → WAV; the Opus chunks as
 *   received are replayed through a demuxer and their packets stored as Ogg); the dead task's
 *   unfinished part is `aborted`;
 * - the transcript: the segments already stored, and a repair stretch from the end of the last
 *   final inside the durable audio to the end of the transcript or the audio, whichever is later,
 *   so the repair pass re-transcribes what the dead task's engine had not finalised and moves any
 *   text of audio that was acknowledged but never became durable into the stretch's prior version;
 * - the transcription: `completed` (or `failed` without audio and text), `end_reason = 'error'`
 *   with {@link FINALISED_NOTE} (the API's `endReason` `repaired`), `ack_seq` = the durable seq.
 * A failure (S3 or the database away) releases the claim; the next round retries.
 */
import { createLiveDecoder, pcmMs, type OpusHeadInfo } from '../audio/index.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { RecordingService, RecordingWriter } from '../recordings/service.js';
import type { AbandonedTranscription, DictationRepository } from './dictation-repo.js';

/** The stored failure_reason of a session finalised here. */
export const FINALISED_NOTE = 'recovered from durable checkpoints: the server stopped unexpectedly and the page did not come back';
const FINALISED_EMPTY_NOTE = 'the server stopped unexpectedly and the page did not come back; no audio had been stored durably';

export interface AbandonedSessionsOptions {
  repo: DictationRepository;
  recordings: RecordingService;
  /** Where the untranscribed stretch goes (the repair pass), and a nudge to look at it now. */
  repairs?: { add(transcriptionId: string, fromMs: number, toMs: number): Promise<void> };
  taskId: string;
  logger: Logger;
  /** TASK_DEAD_AFTER_MS. */
  deadAfterMs: number;
  /** RESUME_GRACE_MS: how long the client has to come back after its task was last seen. */
  graceMs: number;
  /** How often to look (default: `deadAfterMs`, at least 1 s). */
  intervalMs?: number;
  /** S3 gets this long to complete the assembled recording before the upload goes on in the background. */
  finishTimeoutMs?: number;
}

/** Finalises, on this task, sessions whose task died and whose client never came back. */
export class AbandonedSessions {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly o: AbandonedSessionsOptions) {
    this.log = o.logger.child({ component: 'abandoned-sessions' });
  }

  /** Looks now (start-up), then every interval. */
  start(): void {
    this.schedule(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => 0);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep().catch((err: unknown) => {
        this.log.warn({ err: errFields(err) }, 'abandoned_session_sweep_failed');
        return 0;
      });
      void this.running.finally(() => this.schedule(this.o.intervalMs ?? Math.max(1000, this.o.deadAfterMs)));
    }, ms);
    this.timer.unref();
  }

  /** One round: finalises every due session it can claim; returns how many. */
  async sweep(): Promise<number> {
    let done = 0;
    for (const row of await this.o.repo.findAbandoned(this.o.taskId, this.o.deadAfterMs, this.o.graceMs)) {
      if (this.closed) break;
      if (await this.finalise(row)) done++;
    }
    return done;
  }

  private async finalise(row: AbandonedTranscription): Promise<boolean> {
    const log = this.log.child({ transcriptionId: row.id });
    if (!(await this.o.repo.claimCrashed(row.id, this.o.taskId, row.resumePart))) return false; // another task was quicker
    try {
      // After the claim: the dead owner, should it wake up, can add no checkpoint from here on.
      const durable = await this.o.recordings.readDurable(row.id);
      await this.o.recordings.abandonUnfinished(row.id);
      let durationMs = 0;
      let recordingFailed = false;
      let writer: RecordingWriter | undefined;
      if (durable.bytes.length > 0) {
        const stored = await this.storeRecording(row, durable.kind === 'wire', durable.bytes);
        ({ durationMs, writer } = stored);
        recordingFailed = stored.failed;
      }
      const { coveredMs, transcriptEndMs, segments } = await this.o.repo.segments.transcriptExtent(row.id, durationMs);
      const toMs = Math.max(durationMs, transcriptEndMs);
      if (this.o.repairs && durationMs > 0 && toMs - coveredMs >= 100) await this.o.repairs.add(row.id, coveredMs, toMs);
      const status = recordingFailed || (durationMs === 0 && segments === 0) ? 'failed' : 'completed';
      const ended = await this.o.repo.finish(
        row.id,
        { status, endReason: 'error', durationMs, ackSeq: durable.lastSeq, failureReason: recordingFailed ? 'recording_not_saved' : durationMs > 0 ? FINALISED_NOTE : FINALISED_EMPTY_NOTE },
        this.o.taskId,
      );
      log.warn({ durableSeq: durable.lastSeq, lostAckSeq: row.ackSeq, durationMs, status, ended, repairFromMs: coveredMs }, 'session_finalised_after_crash');
      // Only now: until the row is ended, a retry of this finalisation reads the checkpoints again.
      const drop = () => void this.o.recordings.dropCheckpoints(row.id, this.o.taskId);
      if (ended && writer) {
        if (writer.status().state === 'completed') drop();
        else writer.once('completed', drop);
      }
      return ended;
    } catch (err) {
      log.warn({ err: errFields(err) }, 'abandoned_session_deferred');
      await this.o.repo.releaseCrashedClaim(row.id, this.o.taskId, row.resumePart).catch(() => {});
      return false;
    }
  }

  /**
   * A new recording part (the next `part_index`) holding the durable audio; resolves once it is
   * stored (or its upload goes on in the background: `finish` timed out, the writer keeps trying).
   * Its checkpoints are deleted when the part is completed.
   */
  private async storeRecording(row: AbandonedTranscription, wire: boolean, bytes: Buffer): Promise<{ durationMs: number; failed: boolean; writer: RecordingWriter }> {
    const partIndex = row.resumePart + 1;
    let durationMs: number;
    let writer;
    if (!wire) {
      durationMs = pcmMs(bytes.length);
      writer = await this.o.recordings.open({ transcriptionId: row.id, encoding: 'pcm_s16le', sampleRate: 16000, partIndex });
      for (let i = 0; i < bytes.length; i += 1 << 20) await writer.appendPcm(bytes.subarray(i, i + (1 << 20)));
    } else {
      // The chunks as received, through the demuxer and decoder a live session uses: the packets
      // for the Ogg part, and the PCM length for the session's timeline.
      let head: OpusHeadInfo | undefined;
      const packets: Array<{ data: Buffer; samples48k: number }> = [];
      const decoder = await createLiveDecoder({ encoding: row.encoding === 'ogg_opus' ? 'ogg_opus' : 'webm_opus' });
      let pcmBytes = 0;
      try {
        for (let i = 0; i < bytes.length; i += 64 * 1024) {
          const out = decoder.push(bytes.subarray(i, i + 64 * 1024));
          head ??= out.head;
          for (const packet of out.packets) packets.push(packet);
          pcmBytes += (out.pcm instanceof Promise ? await out.pcm : out.pcm).length;
        }
      } finally {
        decoder.end();
      }
      durationMs = pcmMs(pcmBytes);
      writer = await this.o.recordings.open({
        transcriptionId: row.id,
        encoding: row.encoding === 'ogg_opus' ? 'ogg_opus' : 'webm_opus',
        partIndex,
        opusHead: { channels: head?.channels ?? 1, preSkip: head?.preSkip ?? 0, inputSampleRate: head?.inputSampleRate ?? 48000 },
      });
      for (let i = 0; i < packets.length; i += 500) await writer.appendOpus(packets.slice(i, i + 500));
    }
    try {
      const result = await writer.finish({ timeoutMs: this.o.finishTimeoutMs ?? 10_000 });
      if (result.state === 'pending') this.log.warn({ transcriptionId: row.id }, 'recording_upload_pending');
      return { durationMs, failed: false, writer };
    } catch {
      return { durationMs, failed: true, writer };
    }
  }
}
