import type { LiveAudioDecoder } from '../audio/index.js';
import type { Logger } from '../lib/logger.js';
import type { MetricsHooks } from '../lib/metrics-hooks.js';
import type { CheckpointWriter } from '../recordings/checkpoints.js';
import type { RecordingWriter } from '../recordings/writer.js';
import type { TranscriptionStream } from '../transcription/port.js';
import type { DictationRepository } from './dictation-repo.js';
import type { PreviousAudio } from './session-recording.js';
import type { ProgressSink } from './progress-batcher.js';
import type { SessionSink } from './types.js';

/** What a live session (live-session.ts) is built from: its ports, limits and where it continues from. */

export interface LiveSessionLimits {
  idleTimeoutMs: number;
  maxSessionMs: number;
  maxChunkBytes: number;
  /** Audio received but not yet processed, per session. */
  maxBacklogBytes: number;
}

export interface LiveSessionDeps {
  id: string;
  transcriptionId: string;
  userId: string;
  engineName: string;
  decoder: LiveAudioDecoder;
  stream: TranscriptionStream;
  /**
   * Opens the store side of the session's recording (row, spool, upload), at `session:start`; the
   * format is the decoder's (session-recording.ts).
   */
  openRecording: () => Promise<RecordingWriter>;
  /**
   * Opus input that goes to the engine as it arrived (`writeOpus`; TRANSCRIBE_AUDIO=opus with an
   * engine that `acceptsOpus`): the decoder gives no PCM, the session time runs on the packets'
   * durations, and no level events are sent (the page meters its microphone itself).
   */
  opusPassthrough?: boolean;
  repo: DictationRepository;
  /** Where progress goes after every stored chunk (written in batches; see ProgressBatcher). */
  progress: ProgressSink & { flush(): Promise<void> };
  sink: SessionSink;
  limits: LiveSessionLimits;
  logger: Logger;
  /** Called once when the session is over (to free its capacity slot). */
  onClosed: () => void;
  /**
   * A resumed session (another task ended it at shutdown, or died): where its chunk ledger and
   * timeline continue; the earlier part's audio the new recording part starts with (for Opus the
   * packets and OpusHead demuxed by the replay of its durable chunks); audio the engine hears again
   * before the new chunks (from the last stored final to `audioMs`).
   */
  resumeFrom?: { ackSeq: number; audioMs: number; previous?: PreviousAudio; enginePrefill?: Buffer };
  /**
   * Durable checkpoints (docs/recordings.md): each chunk's audio once it is in the recording; the
   * acks report their `durableSeq`. Without them the session has no `durableSeq`.
   */
  checkpoints?: CheckpointWriter;
  /** Called once the recording of a session that ended for good is stored (deletes the checkpoints). */
  onStoredForGood?: () => void;
  /**
   * The task this session runs on. With it, segment and end writes are fenced: once another task
   * has claimed the session (this task was presumed dead: paused, cut off), this one stops writing
   * and ends the session locally only (docs/resilience.md, "Zombie task").
   */
  ownerTask?: string;
  /** Where the session's counters go (audio declared lost). */
  observer?: MetricsHooks;
}
