import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryableStorageError } from '../../src/recordings/retry.js';
import { NoSuchUploadError, readObject, type ObjectStore } from '../../src/storage/object-store.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';
import { pcmChunk, startS3Fixture, type S3Fixture } from '../support/recordings.js';

/**
 * The object-store port's contract (src/storage/object-store.ts), run against every adapter: the
 * S3 adapter on the embedded S3-API server (real s3rver, through a TCP proxy that can cut it off) and
 * the in-memory test adapter. Recordings, checkpoints and vocabularies rely on exactly this.
 */
interface Subject {
  store: ObjectStore;
  /**
   * Contract clauses this adapter's server cannot honour, with why (they are still held against the
   * other adapters). The embedded s3rver: no AbortMultipartUpload (405 MethodNotAllowed), completing a
   * gone upload is a 500 instead of 404 NoSuchUpload, and `bytes=0-0` sends the whole object (its
   * store reads an end of 0 as "no end"); real S3 does all three as the contract says.
   */
  deviations: Set<'abort' | 'no_such_upload' | 'first_byte_range'>;
  /** Makes the store unreachable until `restore`. */
  outage(): Promise<{ restore(): Promise<void> }>;
  close(): Promise<void>;
}

const adapters: Array<[string, () => Promise<Subject>]> = [
  [
    's3 (embedded s3rver)',
    async () => {
      const fx: S3Fixture = await startS3Fixture();
      return {
        store: fx.store().store,
        deviations: new Set(['abort', 'no_such_upload', 'first_byte_range']),
        outage: async () => {
          await fx.proxy.cut('refuse');
          return { restore: () => fx.proxy.restore() };
        },
        close: () => fx.close(),
      };
    },
  ],
  [
    'memory (test adapter)',
    async () => {
      const store = new MemoryObjectStore();
      return {
        store,
        deviations: new Set(),
        outage: async () => {
          store.down = true;
          return { restore: async () => void (store.down = false) };
        },
        close: async () => {},
      };
    },
  ],
];

const FIVE_MIB = 5 * 1024 * 1024;

describe.each(adapters)('object store contract: %s', (_name, make) => {
  let subject: Subject;
  let store: ObjectStore;
  const key = (name: string) => `${store.prefix}contract/${randomUUID()}/${name}`;

  beforeAll(async () => {
    subject = await make();
    store = subject.store;
  });
  afterAll(async () => {
    store?.close();
    await subject?.close();
  });

  it('joins multipart parts in part-number order whatever order they are listed in, and head reports the joined size', async () => {
    const k = key('rec.wav');
    const p1 = pcmChunk(1, FIVE_MIB);
    const p2 = pcmChunk(2, 1000);
    const id = await store.createMultipart(k, 'audio/wav');
    // Uploaded last-first, as the writer's bounded pool may.
    const e2 = await store.uploadPart(k, id, 2, p2);
    const e1 = await store.uploadPart(k, id, 1, p1);
    expect(await store.head(k)).toBeUndefined();
    await store.completeMultipart(k, id, [
      { partNumber: 2, etag: e2 },
      { partNumber: 1, etag: e1 },
    ]);
    expect(await store.head(k)).toEqual({ bytes: FIVE_MIB + 1000 });
    expect((await readObject(store, k)).equals(Buffer.concat([p1, p2]))).toBe(true);
  });

  it('rejects completing an upload that was aborted or already completed with a non-retryable NoSuchUploadError', async (ctx) => {
    if (subject.deviations.has('abort') || subject.deviations.has('no_such_upload')) return ctx.skip();
    const k = key('aborted.ogg');
    const id = await store.createMultipart(k, 'audio/ogg');
    const etag = await store.uploadPart(k, id, 1, Buffer.from('only part'));
    await store.abortMultipart(k, id);
    const err = await store.completeMultipart(k, id, [{ partNumber: 1, etag }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoSuchUploadError);
    expect(isRetryableStorageError(err)).toBe(false);
    expect(await store.head(k)).toBeUndefined();

    const done = key('done.ogg');
    const id2 = await store.createMultipart(done, 'audio/ogg');
    const e = await store.uploadPart(done, id2, 1, Buffer.from('one'));
    await store.completeMultipart(done, id2, [{ partNumber: 1, etag: e }]);
    await expect(store.completeMultipart(done, id2, [{ partNumber: 1, etag: e }])).rejects.toBeInstanceOf(NoSuchUploadError);
    expect((await readObject(store, done)).toString()).toBe('one');
  });

  it('reads bytes start..end inclusive of a stored object, the first and the last byte included', async () => {
    const k = key('range.bin');
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await store.put(k, body, 'application/octet-stream');
    const read = async (range: { start: number; end: number }) => {
      const chunks: Buffer[] = [];
      for await (const c of await store.get(k, range)) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    if (!subject.deviations.has('first_byte_range')) expect([...(await read({ start: 0, end: 0 }))]).toEqual([0]);
    expect([...(await read({ start: 0, end: 2 }))]).toEqual([0, 1, 2]);
    expect([...(await read({ start: 10, end: 13 }))]).toEqual([10, 11, 12, 13]);
    expect([...(await read({ start: 255, end: 255 }))]).toEqual([255]);
    expect((await readObject(store, k)).equals(body)).toBe(true);
  });

  it('head and get of a missing key: undefined, and a rejection that is not worth repeating', async () => {
    const k = key('missing');
    expect(await store.head(k)).toBeUndefined();
    const err = await store.get(k).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isRetryableStorageError(err)).toBe(false);
  });

  it('put replaces, delete removes, and deleting a missing key succeeds', async () => {
    const k = key('checkpoint');
    await store.put(k, Buffer.from('first'), 'application/octet-stream');
    await store.put(k, Buffer.from('second!'), 'application/octet-stream');
    expect(await store.head(k)).toEqual({ bytes: 7 });
    await store.delete(k);
    expect(await store.head(k)).toBeUndefined();
    await store.delete(k);
  });

  it('lists exactly the objects under a prefix, with their modification time', async () => {
    const dir = key('list/');
    const before = Date.now() - 5_000;
    await store.put(`${dir}a`, Buffer.from('a'), 'text/plain');
    await store.put(`${dir}b`, Buffer.from('b'), 'text/plain');
    await store.put(`${dir.slice(0, -1)}-sibling`, Buffer.from('c'), 'text/plain');
    const page = await store.list(dir);
    expect(page.objects.map((o) => o.key).sort()).toEqual([`${dir}a`, `${dir}b`]);
    expect(page.next).toBeUndefined();
    for (const o of page.objects) {
      expect(o.lastModified).toBeInstanceOf(Date);
      expect(o.lastModified.getTime()).toBeGreaterThan(before);
    }
  });

  it('check() passes while the store answers and fails with a retryable error while it is away', async () => {
    await store.check();
    const outage = await subject.outage();
    try {
      const err = await store.check().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(isRetryableStorageError(err)).toBe(true);
    } finally {
      await outage.restore();
    }
    await store.check();
  });

  it('names an object for outside readers by its key', () => {
    const k = key('vocabulary.txt');
    expect(store.uri(k)).toMatch(new RegExp(`^[a-z0-9]+://[^/]*/?${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });
});

describe('S3 adapter', () => {
  let fx: S3Fixture;
  beforeAll(async () => {
    fx = await startS3Fixture();
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('turns S3\'s NoSuchUpload answer to CompleteMultipartUpload into the port\'s NoSuchUploadError (what crash recovery tests for)', async () => {
    const { store } = fx.store();
    // s3rver answers a gone upload with a 500 (see deviations): S3's own answer, injected at the wire.
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'CompleteMultipartUploadCommand') throw Object.assign(new Error('The specified upload does not exist.'), { name: 'NoSuchUpload', $metadata: { httpStatusCode: 404 } });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'noSuchUpload' },
    );
    const err = await store.completeMultipart('recordings/x.wav', 'gone', [{ partNumber: 1, etag: '"e"' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoSuchUploadError);
    expect(isRetryableStorageError(err)).toBe(false);
  });

  it('encrypts what it creates (PutObject, CreateMultipartUpload) and sends no SSE header where S3 refuses one (UploadPart, Complete)', async () => {
    const { store, requests } = fx.store({ kmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/test' });
    const k = `recordings/contract/${randomUUID()}.wav`;
    await store.put(`${k}.checkpoint`, Buffer.from('x'), 'application/octet-stream');
    const id = await store.createMultipart(k, 'audio/wav');
    const etag = await store.uploadPart(k, id, 1, Buffer.from('part'));
    await store.completeMultipart(k, id, [{ partNumber: 1, etag }]);
    const sse = Object.fromEntries(requests.map((r) => [r.command, [r.headers['x-amz-server-side-encryption'], r.headers['x-amz-server-side-encryption-aws-kms-key-id']]]));
    expect(sse).toEqual({
      PutObjectCommand: ['aws:kms', 'arn:aws:kms:us-east-1:111122223333:key/test'],
      CreateMultipartUploadCommand: ['aws:kms', 'arn:aws:kms:us-east-1:111122223333:key/test'],
      UploadPartCommand: [undefined, undefined],
      CompleteMultipartUploadCommand: [undefined, undefined],
    });
  });
});
