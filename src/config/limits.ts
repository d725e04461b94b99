/**
 * Fixed size limits, defined once here and read by the domain (live sessions), the transports
 * (Socket.IO, the JSON API) and the error table. Constants, not environment settings (config.ts):
 * the clients and docs/errors.md state them. Dependency-free, so any layer may import it.
 */

const MiB = 1024 * 1024;

/** Largest `audio:chunk` payload a live session accepts (`audio_too_large` above it). */
export const MAX_CHUNK_BYTES = 1 * MiB;
/** {@link MAX_CHUNK_BYTES} in words, for the messages that name it (ERROR_TABLE, docs/errors.md). */
export const MAX_CHUNK_LABEL = `${MAX_CHUNK_BYTES / MiB} MiB`;

/**
 * Audio of one live session waiting for its engine (`audio_backlog_exceeded` above it): 60 MB is
 * ~31 min of 16 kHz 16-bit PCM.
 */
export const MAX_BACKLOG_BYTES = 60 * 1000 * 1000;

/**
 * Largest Socket.IO message: one audio chunk plus the event's framing (event name, sessionId, seq,
 * ack id). Socket.IO closes a connection that sends a bigger one.
 */
export const MAX_SOCKET_MESSAGE_BYTES = MAX_CHUNK_BYTES + 64 * 1024;

/** Largest JSON request body of the HTTP API. */
export const MAX_JSON_BODY = '64kb';
