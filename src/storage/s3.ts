import {
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import type { Logger } from '../lib/logger.js';

export interface ObjectStoreOptions {
  bucket: string;
  /** SSE-KMS key; when unset objects are encrypted with SSE-S3 (AES256). */
  kmsKeyId?: string | undefined;
  /** Prepended to every object key, e.g. `recordings/`. */
  prefix: string;
  region: string;
  /** A stand-in S3 API (s3rver, MinIO); switches to path-style addressing. */
  endpoint?: string | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** SDK attempts per call; the recordings uploader retries on top of this with its own backoff. */
  maxAttempts?: number;
  /** Milliseconds to wait for a TCP connection, and for a request to make progress. */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * Health check by HEAD of this small object (created when missing) instead of HeadBucket. For the
   * embedded store: s3rver answers HeadBucket by listing and reading up to 1,000 stored objects, so its
   * cost grew with every recording kept (0.03–0.14 cores at one check every 2 s after ~1,200
   * recordings); a HEAD of one object costs the same whatever is stored.
   */
  healthKey?: string;
}

export interface SseParams {
  ServerSideEncryption: ServerSideEncryption;
  SSEKMSKeyId?: string;
}

export interface ObjectStore {
  client: S3Client;
  bucket: string;
  prefix: string;
  /** Encryption headers for PutObject / CreateMultipartUpload. */
  sseParams(): SseParams;
  /** HeadBucket (or HEAD of the health object); throws when the bucket is unreachable (used by /health). */
  check(): Promise<void>;
  close(): void;
}

/**
 * The S3 adapter. The client is built here, never at module level, so configuration is read once
 * by the composition root.
 */
export function createObjectStore(options: ObjectStoreOptions, logger: Logger): ObjectStore {
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 3,
    // Without these, stream bodies get aws-chunked framing with trailing checksums, which
    // S3-compatible stand-ins store verbatim.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
    },
  });
  const log = logger.child({ component: 'object-store' });
  log.debug({ bucket: options.bucket, kms: Boolean(options.kmsKeyId), endpoint: Boolean(options.endpoint) }, 'object store ready');
  return {
    client,
    bucket: options.bucket,
    prefix: options.prefix,
    sseParams() {
      return options.kmsKeyId
        ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: options.kmsKeyId }
        : { ServerSideEncryption: 'AES256' };
    },
    async check() {
      if (!options.healthKey) {
        await client.send(new HeadBucketCommand({ Bucket: options.bucket }));
        return;
      }
      try {
        await client.send(new HeadObjectCommand({ Bucket: options.bucket, Key: options.healthKey }));
      } catch (err) {
        if ((err as { name?: string }).name !== 'NotFound') throw err;
        // First check (or removed): writing it proves the bucket is there and writable.
        await client.send(new PutObjectCommand({ Bucket: options.bucket, Key: options.healthKey, Body: 'ok', ...this.sseParams() }));
      }
    },
    close() {
      client.destroy();
    },
  };
}
