/**
 * The dictation domain's own types: what a live session is asked to do (already validated, see
 * `src/realtime/payloads.ts` for the edge that parses the wire) and what it reports. The transport
 * (`src/realtime/`) maps these to Socket.IO events; nothing here knows it exists.
 */
import type { AudioEncoding } from '../audio/index.js';
import type { ErrorCode } from '../lib/app-error.js';
import type { SessionType, Specialty } from '../transcription/port.js';

export type { AudioEncoding };

/** Why a live session ended (stored on the transcription, sent with `session:ended`). */
export type EndReason = 'stopped' | 'idle_timeout' | 'max_duration' | 'server_shutdown' | 'error';

/** A validated `session:start`: defaults applied, a format the service takes, no NUL in the title. */
export interface StartRequest {
  title?: string | undefined;
  specialty: Specialty;
  type: SessionType;
  audio: { encoding: AudioEncoding; sampleRate?: number | undefined; channels?: 1 | undefined };
}

/**
 * Codes of notices: things a live session's user should know that do not end it (docs/errors.md,
 * "Notices"). Three are also error codes (a request can fail with them); two are notices only.
 */
export const NOTICE_CODES = ['transcriber_failover', 'transcriber_recovered', 'transcriber_unavailable', 'storage_unavailable', 'server_shutdown'] as const;
export type NoticeCode = (typeof NOTICE_CODES)[number];

/** Something a live session reports to its user: `fatal` ones end it, notices do not. */
export type SessionProblem = { code: ErrorCode; message: string; fatal: true } | { code: NoticeCode; message: string; fatal: false };

/** What a live session tells the outside world (the Socket.IO layer maps these to events). */
export interface SessionSink {
  partial(p: { segmentId: string; text: string; startMs: number; endMs: number }): void;
  final(p: { segmentId: string; text: string; startMs: number; endMs: number; speaker?: string }): void;
  error(p: SessionProblem): void;
  level(p: { dbfs: number }): void;
  ended(p: { reason: EndReason }): void;
}

/** One live session as its owner may list it (`session:list`). */
export interface LiveSessionInfo {
  sessionId: string;
  transcriptionId: string;
  startedAt: string;
  durationMs: number;
  /** Whether a socket follows it now (false: waiting for its page to come back). */
  connected: boolean;
}
