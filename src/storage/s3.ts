import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import type { Logger } from '../lib/logger.js';
import { NoSuchUploadError, StoreProtocolError, type ObjectStore } from './object-store.js';

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

/**
 * The S3 adapter of the object-store port. Its client and bucket are visible to the composition
 * root and to tests (fault injection through the SDK's middleware stack, raw requests); the rest
 * of the service sees {@link ObjectStore} only.
 */
export interface S3ObjectStore extends ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;
  /** Encryption headers for PutObject / CreateMultipartUpload (UploadPart and Complete take none). */
  sseParams(): SseParams;
}

/**
 * Builds the S3 adapter. The client is built here, never at module level, so configuration is
 * read once by the composition root. The only module that builds S3 commands.
 */
export function createObjectStore(options: ObjectStoreOptions, logger: Logger): S3ObjectStore {
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
  const Bucket = options.bucket;
  const sseParams = (): SseParams =>
    options.kmsKeyId ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: options.kmsKeyId } : { ServerSideEncryption: 'AES256' };
  const log = logger.child({ component: 'object-store' });
  log.debug({ bucket: Bucket, kms: Boolean(options.kmsKeyId), endpoint: Boolean(options.endpoint) }, 'object_store_ready');
  const head = async (Key: string): Promise<{ bytes: number } | undefined> => {
    try {
      const res = await client.send(new HeadObjectCommand({ Bucket, Key }));
      return { bytes: res.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  return {
    client,
    bucket: Bucket,
    prefix: options.prefix,
    sseParams,
    uri: (key) => `s3://${Bucket}/${key}`,

    async createMultipart(Key, ContentType) {
      const res = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType, ...sseParams() }));
      if (!res.UploadId) throw new StoreProtocolError('CreateMultipartUpload returned no UploadId');
      return res.UploadId;
    },
    async uploadPart(Key, UploadId, PartNumber, Body) {
      const res = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length }));
      if (!res.ETag) throw new StoreProtocolError('UploadPart returned no ETag');
      return res.ETag;
    },
    async completeMultipart(Key, UploadId, parts) {
      const Parts = [...parts].sort((a, b) => a.partNumber - b.partNumber).map((p) => ({ PartNumber: p.partNumber, ETag: p.etag }));
      try {
        await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
      } catch (err) {
        if ((err as Error).name === 'NoSuchUpload') throw new NoSuchUploadError(`no upload ${UploadId}`, { cause: err });
        throw err;
      }
    },
    async abortMultipart(Key, UploadId) {
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    },

    async put(Key, Body, ContentType) {
      await client.send(new PutObjectCommand({ Bucket, Key, Body, ContentLength: Body.length, ContentType, ...sseParams() }));
    },
    head,
    async get(Key, range) {
      const res = await client.send(new GetObjectCommand({ Bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      if (!res.Body) throw new StoreProtocolError('GetObject returned no body');
      return res.Body as Readable;
    },
    async delete(Key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
    },
    async list(Prefix, next) {
      const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix, ...(next ? { ContinuationToken: next } : {}) }));
      const objects = (page.Contents ?? []).flatMap((c) => (c.Key && c.LastModified ? [{ key: c.Key, lastModified: c.LastModified }] : []));
      return { objects, ...(page.IsTruncated && page.NextContinuationToken ? { next: page.NextContinuationToken } : {}) };
    },

    async check() {
      if (!options.healthKey) {
        await client.send(new HeadBucketCommand({ Bucket }));
        return;
      }
      // First check (or removed): writing it proves the bucket is there and writable.
      if (!(await head(options.healthKey))) await client.send(new PutObjectCommand({ Bucket, Key: options.healthKey, Body: 'ok', ...sseParams() }));
    },
    close() {
      client.destroy();
    },
  };
}

function isNotFound(err: unknown): boolean {
  const e = err as Error & { $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}
