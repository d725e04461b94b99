import type { Readable } from 'node:stream';

/**
 * The object-store port: what recordings, checkpoints and vocabularies need from a bucket, and no
 * more. One adapter talks to S3 (`s3.ts`, also used against the embedded S3-API server); the
 * contract test (test/integration/object-store-contract.test.ts) holds every adapter to the same
 * behaviour. Keys are full keys: callers prepend {@link ObjectStore.prefix} themselves.
 *
 * Each call is one attempt; callers wrap them in their retry policy. Failures are the adapter's own
 * errors, classified by `isRetryableStorageError` (recordings/retry.ts): no response or a 5xx,
 * 408, 429 is worth repeating, another 4xx is not.
 */
export interface ObjectStore {
  /** Prepended to every key the service builds (S3_PREFIX, e.g. `recordings/`). */
  readonly prefix: string;
  /** Where a reader outside this service (Transcribe) finds `key`: `s3://<bucket>/<key>`. */
  uri(key: string): string;

  /** Starts a multipart upload (encrypted at rest); resolves its upload id. */
  createMultipart(key: string, contentType: string): Promise<string>;
  /** Stores part `partNumber` (1-based; every part but the last at least 5 MiB); resolves its ETag. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string>;
  /**
   * Joins the parts into the object. Rejects with {@link NoSuchUploadError} when the upload is gone
   * (completed or aborted earlier).
   */
  completeMultipart(key: string, uploadId: string, parts: ReadonlyArray<{ partNumber: number; etag: string }>): Promise<void>;
  /** Abandons an upload and frees its parts. */
  abortMultipart(key: string, uploadId: string): Promise<void>;

  /** Stores a small object in one request (encrypted at rest). */
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The object's size, or `undefined` when there is no such object. */
  head(key: string): Promise<{ bytes: number } | undefined>;
  /**
   * The object's bytes as a stream, or bytes `start`..`end` (inclusive) of them. The caller must
   * consume or destroy the stream. Rejects when there is no such object.
   */
  get(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Deletes the object; deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** One page (up to 1,000) of the objects under `prefix`; pass `next` back for the following page. */
  list(prefix: string, next?: string): Promise<{ objects: Array<{ key: string; lastModified: Date }>; next?: string }>;

  /** Throws when the store is unreachable or not writable (the `/health` storage check). */
  check(): Promise<void>;
  close(): void;
}

/** The multipart upload named no longer exists (completed or aborted before). Repeating cannot help. */
export class NoSuchUploadError extends Error {
  override readonly name = 'NoSuchUpload';
  readonly retryable = false;
}

/** The store answered without what the call must return (no upload id, ETag or body). Repeating cannot help. */
export class StoreProtocolError extends Error {
  override readonly name = 'StoreProtocolError';
  readonly retryable = false;
}

/** The whole object as one buffer (small objects only: checkpoints, a WAV to continue). */
export async function readObject(store: ObjectStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
