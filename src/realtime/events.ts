/**
 * The Socket.IO contract of API.md, typed once for the server, the browser page and test clients.
 */
import type { Role } from '../auth/users.js';
import type { AudioEncoding, EndReason, LiveSessionInfo, NoticeCode } from '../dictation/types.js';
import type { ErrorCode } from '../lib/app-error.js';
import type { SessionType, Specialty } from '../transcription/port.js';

export type { AudioEncoding, EndReason, LiveSessionInfo, NoticeCode };

export interface SessionStartPayload {
  title?: string;
  specialty?: Specialty;
  type?: SessionType;
  audio: { encoding: AudioEncoding; sampleRate?: number; channels?: 1 };
}

export interface AudioChunkPayload {
  sessionId: string;
  seq: number;
  data: Buffer | ArrayBuffer | Uint8Array;
}

/** A failed ack; a `sequence_gap` one also carries the `ackSeq` to resend after (docs/errors.md). */
export type Failure = { ok: false; error: { code: ErrorCode; message: string }; ackSeq?: number };
export type Ack<T> = (response: ({ ok: true } & T) | Failure) => void;

export interface ClientToServerEvents {
  'session:start': (payload: SessionStartPayload, ack: Ack<{ sessionId: string; transcriptionId: string }>) => void;
  /** `durableSeq`: the highest seq whose audio, with every earlier one, survives the loss of the task. */
  'audio:chunk': (payload: AudioChunkPayload, ack: Ack<{ ackSeq: number; durableSeq?: number }>) => void;
  'session:stop': (payload: { sessionId: string }, ack: Ack<{ transcriptionId: string; durationMs: number }>) => void;
  'session:resume': (payload: { sessionId: string; lastSeq?: number }, ack: Ack<{ ackSeq: number; durableSeq?: number }>) => void;
  /** Extension (docs/resilience.md): chunks fromSeq..toSeq are lost for good; mark them as a gap. */
  'audio:gap': (payload: { sessionId: string; fromSeq: number; toSeq: number; durationMs: number }, ack: Ack<{ ackSeq: number; durableSeq?: number }>) => void;
  /** Extension (API.md): the user's own live sessions on this task, so a page can show and stop them. */
  'session:list': (payload: Record<string, never>, ack: Ack<{ sessions: LiveSessionInfo[] }>) => void;
}

export interface ServerToClientEvents {
  'transcript:partial': (p: { sessionId: string; segmentId: string; text: string; startMs: number; endMs: number }) => void;
  'transcript:final': (p: {
    sessionId: string;
    segmentId: string;
    text: string;
    startMs: number;
    endMs: number;
    speaker?: string;
  }) => void;
  'session:ended': (p: { sessionId: string; transcriptionId: string; reason: EndReason }) => void;
  /**
   * A problem the user should see. `fatal: true` ends the session. Notices (`fatal: false`) are also
   * sent here for clients written against API.md before `session:notice` existed; new clients listen
   * to `session:notice` and ignore `session:error` with `fatal: false`.
   */
  'session:error': (p: { sessionId: string; code: ErrorCode | NoticeCode; message: string; fatal: boolean }) => void;
  /** Extension (docs/errors.md, "Notices"): something the user should know that does not end the session. */
  'session:notice': (p: { sessionId: string; code: NoticeCode; message: string }) => void;
  'session:level': (p: { sessionId: string; dbfs: number }) => void;
}

export type EventName = keyof ClientToServerEvents;
/** What a client sends with `event`. */
export type EventPayload<E extends EventName> = Parameters<ClientToServerEvents[E]>[0];
/** What the server acks `event` with: `{ ok: true, …result }` or a {@link Failure}. */
export type AckResponse<E extends EventName> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
/** The fields of a successful ack of `event` besides `ok`. */
export type AckResult<E extends EventName> = Omit<Extract<AckResponse<E>, { ok: true }>, 'ok'>;

/** Between tasks, through the PostgreSQL adapter. */
export interface InterServerEvents {
  /** A resume landed on the sender while a receiver still holds the session: hand it over. */
  'session:handoff': (req: { sessionId: string; userId: string }, ack: (handedOff: boolean) => void) => void;
}

export interface SocketData {
  user: { id: string; username: string; role: Role };
  httpSessionId: string;
  /** The client's address as the trusted proxy chain reports it (audit rows), not the proxy's. */
  clientIp: string;
  /** When the web session logged in (ms since epoch): the socket ends with the session's maximum age. */
  loginAt: number;
}
