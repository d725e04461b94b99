import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear. Patient audio, transcript text, titles, names and
 * credentials are never logged; this list is the safety net behind fixed message strings.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'newPassword',
  '*.newPassword',
  'passwordHash',
  '*.passwordHash',
  'cookie',
  '*.cookie',
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'text',
  '*.text',
  'title',
  '*.title',
  'transcript',
  '*.transcript',
  'segments',
  '*.segments',
  'audio',
  '*.audio',
  'data',
  '*.data',
  'chunk',
  '*.chunk',
  'secret',
  '*.secret',
  'sessionSecret',
  '*.sessionSecret',
  'connectionString',
  '*.connectionString',
  'databaseUrl',
  '*.databaseUrl',
  'q',
  '*.q',
];

/** Builds the root logger: JSON lines to `destination` (stdout by default). */
export function createLogger(
  options: { level?: string; name?: string } = {},
  destination?: pino.DestinationStream,
): Logger {
  const opts: LoggerOptions = {
    name: options.name ?? 'arogya-live',
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  };
  return destination ? pino(opts, destination) : pino(opts);
}

/**
 * The one shape of an error in a log line where the whole error must not go in: `{ err:
 * errFields(e) }` gives `err.type`, `err.message` and `err.code` (the fields pino's `err` serializer
 * writes first, without the stack and without the error's other own properties, where a pg error
 * quotes row values in `detail` and an SDK error carries its request). Errors of our own code and
 * of the object store are logged whole, `{ err }`, through that serializer.
 */
export function errFields(err: unknown): { type: string; message: string; code?: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
}
