/**
 * The transcription port: every speech engine (AWS Transcribe Medical, the offline engine, the
 * scripted fake in tests) implements it. Audio goes in by push, results come out by async iteration.
 * Retry, reconnect and timestamp offsets live in one wrapper around any engine, not in adapters.
 */

export type Specialty = 'PRIMARYCARE' | 'CARDIOLOGY' | 'NEUROLOGY' | 'ONCOLOGY' | 'RADIOLOGY' | 'UROLOGY';
export type SessionType = 'CONVERSATION' | 'DICTATION';

export interface StreamOptions {
  /** Always 16000: the audio pipeline resamples before the engine. */
  sampleRate: 16000;
  specialty: Specialty;
  type: SessionType;
  languageCode: 'en-US';
  /** For log correlation only. */
  sessionId: string;
  /** The user the stream serves: engine capacity is shared out per user (`shareByUser`). */
  userId?: string;
  /**
   * Session time (ms) of the first sample written to this stream: the resilient wrapper adds it to
   * every result, so a session resumed on another task keeps one timeline. Adapters ignore it.
   */
  offsetMs?: number;
  /** Prefix that keeps segment ids unique across the streams of one transcription (wrapper only). */
  segmentPrefix?: string;
  /**
   * The custom vocabulary of the session's specialty (docs/review.md, "Custom vocabulary"): with
   * Transcribe, `name` (set only once the service reports it READY) is sent as `VocabularyName`; the
   * offline engine adds the `terms` to its decoder's dictionary.
   */
  vocabulary?: StreamVocabulary;
  /** Engine changes the user should hear about (wrapper only): failover and recovery. */
  onStatus?: (status: EngineStatus) => void;
  /**
   * A stretch of session time the primary engine did not transcribe live (fallback text, or
   * nothing), reported once it is closed (wrapper only): the repair pass re-transcribes it.
   */
  onDegraded?: (stretch: { fromMs: number; toMs: number }) => void;
  /**
   * What the session will write: `pcm` (default, {@link TranscriptionStream.write}) or `ogg-opus`
   * (Opus packets, {@link TranscriptionStream.writeOpus}). Only for an engine with
   * {@link TranscriptionEngine.acceptsOpus}; adapters that take Opus then send it as Ogg Opus.
   */
  input?: 'pcm' | 'ogg-opus';
}

/** One Opus packet as demuxed from the client's WebM or Ogg, with its duration. */
export interface OpusStreamPacket {
  data: Uint8Array;
  /** Duration in samples at 48 kHz (from the packet's TOC byte). */
  samples48k: number;
}

/** What an Ogg Opus stream's OpusHead needs from the client's stream. */
export interface OpusStreamHead {
  channels: number;
  /** Samples at 48 kHz the decoder discards at the start. */
  preSkip: number;
  inputSampleRate: number;
}

/** One term of a custom vocabulary, in the fields of Transcribe's table format. */
export interface VocabularyTerm {
  /** The term, words joined by hyphens (no spaces), e.g. `tirzepatide`, `Heberden-nodes`. */
  phrase: string;
  /** How it sounds: syllables joined by hyphens, words by spaces, e.g. `teer-zep-a-tide`. */
  soundsLike?: string;
  /** How it is written in the transcript, e.g. `Tirzepatide`. */
  displayAs?: string;
}

/** The vocabulary a stream is started with. */
export interface StreamVocabulary {
  /** Transcribe's vocabulary name (only when READY there). */
  name?: string;
  terms: VocabularyTerm[];
}

/** A change of the engine serving a session, reported by the resilient wrapper. */
export type EngineStatus =
  | { kind: 'failover'; from: string; to: string }
  | { kind: 'recovered'; engine: string };

export interface TranscriptResult {
  kind: 'partial' | 'final';
  /** Stable for one utterance within a stream: partials and their final share it. */
  segmentId: string;
  text: string;
  /** Milliseconds from the first sample written to this stream. */
  startMs: number;
  endMs: number;
  speaker?: string;
  /** The engine that produced this result, when a wrapper may switch engines mid-session. */
  engine?: string;
  /** Per-word timing and confidence, where the engine gives them (finals only). */
  words?: Word[];
  /** Protected health information the engine identified in this result (Transcribe Medical, finals only). */
  phi?: PhiEntity[];
}

/** One recognised word: stream time like the result's, confidence 0..1 where the engine gives one. */
export interface Word {
  text: string;
  startMs: number;
  endMs: number;
  confidence?: number;
}

/** An entity span from the engine's PHI identification: its category, time and words. */
export interface PhiEntity {
  type: string;
  startMs: number;
  endMs: number;
  content: string;
  confidence?: number;
}

export interface TranscriptionStream extends AsyncIterable<TranscriptResult> {
  /**
   * Pushes 16 kHz mono s16le PCM (normally one 100 ms frame). Never blocks. The stream may keep
   * `pcm` as it is (replay buffer, send queue): the caller must not change it afterwards.
   */
  write(pcm: Buffer): void;
  /** Signals end of audio; resolves after the last final has been yielded and iteration ended. */
  end(): Promise<void>;
  /** Cancels now; iteration ends, pending results are dropped. */
  abort(reason?: Error): void;
  /**
   * Audio written but not yet processed, in ms, for engines that queue locally (the offline
   * engine). The session holds back acks while it is large, so a fast client is throttled.
   */
  backlogMs?(): number;
  /**
   * With `backlogMs`: resolves once the backlog is at most `ms` (at once when it is), or the stream
   * has ended or failed. The session awaits it before an ack while the backlog is over its limit,
   * instead of polling `backlogMs`.
   */
  whenBacklogBelow?(ms: number): Promise<void>;
  /**
   * Streams started with `input: 'ogg-opus'` only: pushes the Opus packets of one client chunk, in
   * order, with the stream's OpusHead (the same on every call). Never blocks; the stream may keep
   * the packets (the caller must not change them afterwards).
   */
  writeOpus?(packets: readonly OpusStreamPacket[], head: OpusStreamHead): void;
}

export interface TranscriptionEngine {
  /** Tag stored with every segment this engine produced, e.g. `local` or `aws`. */
  readonly name: string;
  /**
   * The engine takes Opus as it arrived (`input: 'ogg-opus'` and `writeOpus`), so a session with
   * Opus input need not decode it (TRANSCRIBE_AUDIO=opus). Absent: PCM only.
   */
  readonly acceptsOpus?: boolean;
  /** Opens a stream. Rejects with {@link ProviderError}. */
  start(options: StreamOptions): Promise<TranscriptionStream>;
  /** Cheap readiness probe for /health; rejects when the engine cannot serve. */
  check(): Promise<void>;
  /** Releases models, workers and clients. */
  close(): Promise<void>;
}

/** A failure from an engine. 4xx is not retryable, except throttling. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    message: string,
    readonly options: {
      retryable: boolean;
      code?: string;
      cause?: unknown;
      /**
       * The service refused the stream before it ever answered, though the refusal arrived after
       * `start()` returned (a slow 429/503): the wrapper treats it as a failure to open.
       */
      refusedAtOpen?: boolean;
    },
  ) {
    super(message, { cause: options.cause });
  }
  get retryable(): boolean {
    return this.options.retryable;
  }
  get code(): string | undefined {
    return this.options.code;
  }
  get refusedAtOpen(): boolean {
    return this.options.refusedAtOpen === true;
  }
}
