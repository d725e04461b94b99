import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import type { Config } from '../../src/config.js';
import { embeddedObjectStore, openStore } from '../../src/composition/infra.js';
import { startEmbeddedS3 } from '../../src/storage/embedded-s3.js';

/** s3rver's own store class: counting its listings shows what a check costs the server. */
const FilesystemStore = createRequire(import.meta.url)('s3rver/lib/stores/filesystem.js') as { prototype: { listObjects: (...a: unknown[]) => Promise<unknown> } };

const logger = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('embedded store health check', () => {
  it('costs the server one object read however many recordings are stored: no bucket listing (s3rver lists and reads every object for HeadBucket)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-s3health-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    // The store `npm start` builds without S3_BUCKET, with the S3-API server in this thread (as
    // `npm start` runs it in a worker thread) so that its listings can be counted here.
    const config = { dataDir: dir, EMBEDDED_S3_PORT: 0, S3_PREFIX: 'recordings/', AWS_REGION: 'us-east-1' } as Config;
    const s3 = await startEmbeddedS3({ dir: path.join(dir, 's3') });
    const store = embeddedObjectStore(s3, config, logger);
    let s3Running = true;
    cleanups.push(async () => {
      if (s3Running) await s3.close();
    });
    cleanups.push(() => store.close());
    for (let i = 0; i < 20; i++) await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: `recordings/r${i}.ogg`, Body: 'x' }));

    const original = FilesystemStore.prototype.listObjects;
    let listings = 0;
    FilesystemStore.prototype.listObjects = function (...args: unknown[]) {
      listings++;
      return original.apply(this, args);
    };
    cleanups.push(() => {
      FilesystemStore.prototype.listObjects = original;
    });
    await store.check(); // creates the sentinel
    await store.check();
    await store.check();
    expect(listings).toBe(0);
    expect(fs.readdirSync(path.join(dir, 's3', store.bucket, 'health')).length).toBeGreaterThan(0);

    await s3.close();
    s3Running = false;
    await expect(store.check()).rejects.toThrow();
  });

  it('runs the store `npm start` builds in a worker thread, not on the event loop that acknowledges audio, and stops it with the service', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-s3thread-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const config = { dataDir: dir, EMBEDDED_S3_PORT: 0, S3_PREFIX: 'recordings/', AWS_REGION: 'us-east-1' } as Config;
    const original = FilesystemStore.prototype.listObjects;
    const putObject = (FilesystemStore.prototype as unknown as { putObject: (...a: unknown[]) => Promise<unknown> }).putObject;
    let putsHere = 0;
    (FilesystemStore.prototype as unknown as { putObject: (...a: unknown[]) => Promise<unknown> }).putObject = function (...args: unknown[]) {
      putsHere++;
      return putObject.apply(this, args);
    };
    cleanups.push(() => {
      (FilesystemStore.prototype as unknown as { putObject: unknown }).putObject = putObject;
      FilesystemStore.prototype.listObjects = original;
    });
    const { store, embeddedS3 } = await openStore(config, logger);
    cleanups.push(() => store.close());
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: 'recordings/a.wav', Body: 'x' }));
    await store.check();
    // Stored by an s3rver that is not this thread's.
    expect(fs.existsSync(path.join(dir, 's3', store.bucket, 'recordings'))).toBe(true);
    expect(putsHere).toBe(0);
    await embeddedS3!.close();
    await expect(store.check()).rejects.toThrow();
  });
});
