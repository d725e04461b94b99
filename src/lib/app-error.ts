import { MAX_CHUNK_LABEL } from '../config/limits.js';

/**
 * The one error type the domain throws. Every `code` is stable, snake_case and documented in
 * docs/errors.md; {@link ERROR_TABLE} maps each to its HTTP status and whether a socket session
 * survives it. Entry points translate; the domain never sees HTTP or Socket.IO.
 */
export const ERROR_TABLE = {
  invalid_payload: { status: 400, message: 'The request is not valid.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unauthenticated: { status: 401, message: 'You need to log in.' },
  invalid_credentials: { status: 401, message: 'Wrong username or password.' },
  unauthorized: { status: 401, message: 'No valid session.' },
  forbidden: { status: 403, message: 'You are not allowed to do this.' },
  origin_mismatch: { status: 403, message: 'Request origin is not allowed.' },
  not_found: { status: 404, message: 'Not found.' },
  range_not_satisfiable: { status: 416, message: 'The requested range is outside the resource.' },
  conflict: { status: 409, message: 'That conflicts with the current state.' },
  username_taken: { status: 409, message: 'That username is already taken.' },
  edit_conflict: { status: 409, message: 'Someone else changed this transcript; reload it and edit the current version.' },
  vocabulary_conflict: { status: 409, message: 'Someone else changed this vocabulary; reload it and apply your change again.' },
  transcript_signed: { status: 409, message: 'This transcript is signed and read-only; an admin can reopen it.' },
  rate_limited: { status: 429, message: 'Too many attempts. Try again later.' },
  capacity_exceeded: { status: 503, message: 'The server is at capacity. Try again shortly.' },
  too_many_sessions: { status: 409, message: 'You already have the most live sessions allowed; stop one first.' },
  unsupported_audio_format: { status: 400, message: 'That audio format is not supported.' },
  invalid_audio: { status: 400, message: 'The audio could not be decoded.' },
  audio_too_large: { status: 413, message: `An audio chunk is larger than ${MAX_CHUNK_LABEL}.` },
  audio_backlog_exceeded: { status: 429, message: 'Too much audio is waiting to be processed.' },
  sequence_gap: { status: 409, message: 'An audio chunk is missing; resend from ackSeq + 1.' },
  session_not_found: { status: 404, message: 'That live session does not exist.' },
  session_ended: { status: 409, message: 'That live session has ended.' },
  session_moving: { status: 503, message: 'The session is moving from a server that stopped answering; try again in a few seconds.' },
  transcriber_unavailable: { status: 503, message: 'The speech engine is unavailable.' },
  storage_unavailable: { status: 503, message: 'The recording store is unavailable.' },
  database_unavailable: { status: 503, message: 'The database is unavailable.' },
  server_shutdown: { status: 503, message: 'The server is restarting. Reconnect to continue.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export class AppError extends Error {
  override readonly name = 'AppError';

  /**
   * @param code stable identifier clients switch on
   * @param message human sentence; defaults to the table's. Never put patient data in it.
   * @param options.retryable whether repeating the same call may succeed (throttling, outages)
   */
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly options: { retryable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message ?? ERROR_TABLE[code].message, { cause: options.cause });
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }

  get retryable(): boolean {
    return this.options.retryable ?? false;
  }

  /** The public body: `{ error: { code, message } }` (API.md). */
  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.options.details } };
  }
}

/** True for errors node-postgres raises when the server is gone or refuses connections. */
export function isDatabaseDown(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // Connection refused/reset, admin shutdown, cannot connect now, too many connections.
    if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300', '08006', '08001', '08003'].includes(code)) {
      return true;
    }
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error|Connection ended/i.test(err.message);
}

/**
 * True for pg-pool's "no connection free in time" (connectionTimeoutMillis while every client is
 * busy): this task is overloaded, the database is not down. Under a login flood these were answered
 * 500 internal_error and looked like an outage (issue 19).
 */
export function isPoolExhausted(err: unknown): boolean {
  return err instanceof Error && /timeout exceeded when trying to connect/i.test(err.message);
}

/** Normalises anything thrown into an AppError, hiding internals behind `internal_error`. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isPoolExhausted(err)) return new AppError('capacity_exceeded', 'The server is busy. Try again shortly.', { retryable: true, cause: err });
  if (isDatabaseDown(err)) return new AppError('database_unavailable', undefined, { retryable: true, cause: err });
  return new AppError('internal_error', undefined, { cause: err });
}

/** Socket.IO ack body for a failure. */
export function errorAck(err: AppError): { ok: false; error: { code: ErrorCode; message: string } } {
  return { ok: false, error: { code: err.code, message: err.message } };
}
