import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { RecordingFormat, UploadedPart } from '../db/recordings-repository.js';
import type { ObjectStore } from '../storage/s3.js';
import { lastPageOffset, markEndOfStream, OggOpusInspector } from './ogg-opus.js';
import { PermanentError } from './retry.js';
import { parseWavHeader, WAV_HEADER_BYTES, wavHeader } from './wav.js';

/**
 * The S3 operations a recording needs, shared by the live writer and crash recovery. Each call
 * is one attempt; callers wrap them in their retry policy.
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
  const res = await store.client.send(
    new CreateMultipartUploadCommand({ Bucket: store.bucket, Key: key, ContentType: contentType, ...store.sseParams() }),
  );
  if (!res.UploadId) throw new PermanentError('CreateMultipartUpload returned no UploadId');
  return res.UploadId;
}

export async function uploadPart(store: ObjectStore, key: string, uploadId: string, n: number, body: Buffer): Promise<UploadedPart> {
  const res = await store.client.send(
    new UploadPartCommand({ Bucket: store.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }),
  );
  if (!res.ETag) throw new PermanentError('UploadPart returned no ETag');
  return { n, etag: res.ETag, size: body.length };
}

/** Completes the upload. If it was already completed (a crash after S3 answered), that is success. */
export async function completeUpload(store: ObjectStore, key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
  try {
    await store.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: store.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: [...parts].sort((a, b) => a.n - b.n).map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
      }),
    );
  } catch (err) {
    if ((err as Error).name === 'NoSuchUpload' && (await objectExists(store, key))) return;
    throw err;
  }
}

export async function objectExists(store: ObjectStore, key: string): Promise<boolean> {
  try {
    await store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    return true;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

/** Best effort: real S3 frees the parts; the bucket's lifecycle rule is the backstop. */
export async function abortUpload(store: ObjectStore, key: string, uploadId: string): Promise<void> {
  await store.client.send(new AbortMultipartUploadCommand({ Bucket: store.bucket, Key: key, UploadId: uploadId }));
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
  const res = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  const body = res.Body as Readable | undefined;
  if (!body) throw new PermanentError('GetObject returned no body');
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
