/**
 * The edge of the realtime API: every client event's payload is parsed here, once, into the typed
 * input the domain takes (`src/dictation/types.ts`). The domain never sees a raw payload.
 * Messages name the fields, never their values (docs/errors.md, `invalid_payload`).
 */
import { z } from 'zod';
import { assertSupportedFormat } from '../audio/index.js';
import type { StartRequest } from '../dictation/types.js';
import { AppError } from '../lib/app-error.js';
import { containsNul } from '../lib/text.js';
import type { Specialty } from '../transcription/port.js';
import type { AudioChunkPayload, EventName, EventPayload } from './events.js';

/**
 * Each event's payload once parsed: the map's payload type, normalised (binary data as a Buffer,
 * `session:start`'s defaults applied and its format checked). Each is assignable to the map's type
 * (test/unit/events-types.test.ts).
 */
export interface ParsedPayloads {
  'session:start': StartRequest;
  'audio:chunk': Omit<AudioChunkPayload, 'data'> & { data: Buffer };
  'session:stop': EventPayload<'session:stop'>;
  'session:resume': EventPayload<'session:resume'>;
  'audio:gap': EventPayload<'audio:gap'>;
  'session:list': EventPayload<'session:list'>;
}

const SPECIALTIES = ['PRIMARYCARE', 'CARDIOLOGY', 'NEUROLOGY', 'ONCOLOGY', 'RADIOLOGY', 'UROLOGY'] as const satisfies readonly Specialty[];
const sessionId = z.string().max(64);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const startSchema = z.object({
  title: z.string().max(200).optional(),
  specialty: z.enum(SPECIALTIES).default('PRIMARYCARE'),
  type: z.enum(['CONVERSATION', 'DICTATION']).default('CONVERSATION'),
  audio: z.object({
    // Any short string here: an encoding the service does not take is `unsupported_audio_format`
    // (below), not `invalid_payload`.
    encoding: z.string().max(32),
    sampleRate: z.number().int().positive().max(192_000).optional(),
    channels: z.number().int().positive().max(8).optional(),
  }),
});
const chunkSchema = z.object({
  sessionId,
  seq,
  data: z.custom<Buffer | ArrayBuffer | Uint8Array>((v) => Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)),
});
const stopSchema = z.object({ sessionId });
const resumeSchema = z.object({ sessionId, lastSeq: z.number().int().min(-1).optional() });
const gapSchema = z
  .object({ sessionId, fromSeq: seq, toSeq: seq, durationMs: z.number().min(0).max(24 * 60 * 60 * 1000) })
  .refine((g) => g.toSeq >= g.fromSeq);

/** `data` as a Buffer over the same bytes (socket.io gives a Buffer; other clients may send views). */
function asBuffer(data: Buffer | ArrayBuffer | Uint8Array): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * @throws AppError `invalid_payload` (the message names the fields), `unsupported_audio_format`
 *   (as UnsupportedAudioFormatError, mapped by toAppError)
 */
function parseStart(raw: unknown): StartRequest {
  const parsed = startSchema.safeParse(raw);
  // PostgreSQL cannot store U+0000: a NUL in the title would fail the insert as a 500.
  if (parsed.success && containsNul(parsed.data)) throw new AppError('invalid_payload', 'Invalid or missing: title.');
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(payload)'))];
    throw new AppError('invalid_payload', `Invalid or missing: ${fields.join(', ')}.`);
  }
  const { audio } = parsed.data;
  assertSupportedFormat(audio);
  return { ...parsed.data, audio };
}

/** Parses with `schema`, or throws `invalid_payload` with `message`. */
function parseWith<T>(schema: z.ZodType<T>, message: string): (raw: unknown) => T {
  return (raw) => {
    const p = schema.safeParse(raw);
    if (!p.success) throw new AppError('invalid_payload', message);
    return p.data;
  };
}

const parseChunk = parseWith(chunkSchema, 'audio:chunk needs {sessionId, seq, data} with binary data.');

/** One parser per client event: the raw payload in, the typed one out; throws AppError. */
export const parsePayload: { [E in EventName]: (raw: unknown) => ParsedPayloads[E] } = {
  'session:start': parseStart,
  'audio:chunk': (raw) => {
    const p = parseChunk(raw);
    return { ...p, data: asBuffer(p.data) };
  },
  'session:stop': parseWith(stopSchema, 'session:stop needs {sessionId}.'),
  'session:resume': parseWith(resumeSchema, 'session:resume needs {sessionId, lastSeq}.'),
  'audio:gap': parseWith(gapSchema, 'audio:gap needs {sessionId, fromSeq, toSeq, durationMs}.'),
  // Takes no arguments: whatever came is ignored.
  'session:list': () => ({}),
};
