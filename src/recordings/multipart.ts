import { createHash } from 'node:crypto';
import type { RecordingFormat, UploadedPart } from '../db/recordings-repository.js';
import { NoSuchUploadError, type ObjectStore } from '../storage/object-store.js';
import { lastPageOffset, markEndOfStream, OggOpusInspector } from '../audio/ogg-opus.js';
import { PermanentError } from './retry.js';
import { parseWavHeader, WAV_HEADER_BYTES, wavHeader } from './wav.js';

/**
 * The object-store operations a recording needs, shared by the live writer and crash recovery.
 * Each call is one attempt; callers wrap them in their retry policy.
 */

export function contentTypeFor(format: RecordingFormat): string {
  return format.container === 'wav' ? 'audio/wav' : 'audio/ogg; codecs=opus';
}

/**
 * The bytes of part `n` as stored in S3, from the spooled payload. WAV: part 1 starts with the
 * header, written last because only then are the sizes known. Ogg: the last page of the last part
 * carries the end-of-stream flag, set in `payload` itself (callers pass a buffer they own, freshly
 * read from the spool), so only WAV part 1 costs a copy.
 */
export function partBody(format: RecordingFormat, n: number, payload: Buffer, o: { isLast: boolean; wavDataBytes: number }): Buffer {
  if (format.container === 'wav') {
    // The SDK sends one buffer or a stream; a stream body cannot be replayed by the SDK's own
    // retries, so part 1 (once per recording) keeps this one copy.
    return n === 1 ? Buffer.concat([wavHeader(format.sampleRate ?? 16000, o.wavDataBytes), payload]) : payload;
  }
  if (!o.isLast) return payload;
  const last = lastPageOffset(payload);
  if (last >= 0) markEndOfStream(payload, last);
  return payload;
}

/** Payload bytes (audio without the WAV header) a stored part holds. */
export function storedPayloadBytes(format: RecordingFormat, part: UploadedPart): number {
  return format.container === 'wav' && part.n === 1 ? part.size - WAV_HEADER_BYTES : part.size;
}

export async function createUpload(store: ObjectStore, key: string, contentType: string): Promise<string> {
  return store.createMultipart(key, contentType);
}

export async function uploadPart(store: ObjectStore, key: string, uploadId: string, n: number, body: Buffer): Promise<UploadedPart> {
  const etag = await store.uploadPart(key, uploadId, n, body);
  return { n, etag, size: body.length };
}

/** Completes the upload. If it was already completed (a crash after the store answered), that is success. */
export async function completeUpload(store: ObjectStore, key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
  try {
    await store.completeMultipart(key, uploadId, parts.map((p) => ({ partNumber: p.n, etag: p.etag })));
  } catch (err) {
    if (err instanceof NoSuchUploadError && (await objectExists(store, key))) return;
    throw err;
  }
}

export async function objectExists(store: ObjectStore, key: string): Promise<boolean> {
  return (await store.head(key)) !== undefined;
}

/** Best effort: real S3 frees the parts; the bucket's lifecycle rule is the backstop. */
export async function abortUpload(store: ObjectStore, key: string, uploadId: string): Promise<void> {
  await store.abortMultipart(key, uploadId);
}

export interface ObjectFacts {
  bytes: number;
  sha256: string;
  durationMs: number;
}

/**
 * Reads the stored object back once: its sha256 and size, and its duration from the container
 * (WAV header; Ogg last granule position), checking every Ogg page CRC on the way. Throws if the
 * object is not a well-formed recording. (The WAV header is written last, so the object's sha256
 * cannot be computed while streaming; one read-back also proves what S3 holds.)
 */
export async function inspectObject(store: ObjectStore, key: string, format: RecordingFormat): Promise<ObjectFacts> {
  const body = await store.get(key);
  const hash = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  const ogg = format.container === 'ogg' ? new OggOpusInspector() : undefined;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    if (ogg) pushOrFail(ogg, chunk);
    else if (head.length < WAV_HEADER_BYTES) head = Buffer.concat([head, chunk.subarray(0, WAV_HEADER_BYTES - head.length)]);
  }
  let durationMs: number;
  if (ogg) {
    durationMs = permanent(() => ogg.end());
  } else {
    const wav = permanent(() => parseWavHeader(head));
    if (wav.dataBytes + WAV_HEADER_BYTES !== bytes) throw new PermanentError(`WAV header says ${wav.dataBytes} data bytes, object has ${bytes - WAV_HEADER_BYTES}`);
    durationMs = wav.durationMs;
  }
  return { bytes, sha256: hash.digest('hex'), durationMs };
}

function permanent<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new PermanentError(`stored recording is malformed: ${(err as Error).message}`);
  }
}

function pushOrFail(ogg: OggOpusInspector, chunk: Buffer): void {
  permanent(() => ogg.push(chunk));
}
