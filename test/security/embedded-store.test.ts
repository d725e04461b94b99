import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_HEALTH_KEY } from '../../src/service.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

/**
 * Issue 19: the embedded S3-API store (s3rver, used without S3_BUCKET) answered anonymous GET, PUT
 * and DELETE on 127.0.0.1, and took any SigV4 request naming its fixed key S3RVER, so any local
 * process could read the recordings (plain WAV) or delete them. Now it answers only requests signed
 * with the key pair the service generated at start.
 */
let t: TestService;
let endpoint: string;
let recordingKey: string;
beforeAll(async () => {
  t = await startTestService();
  const e = await t.service.store.client.config.endpoint!();
  endpoint = `${e.protocol}//${e.hostname}:${e.port}`;
  // A real recording in the store: one short session.
  const { http } = await t.loggedIn('clinician');
  const live = new DictationClient(t.url, http.cookieHeader);
  try {
    expect((await live.start()).ok).toBe(true);
    await live.stream(pcmChunks(Buffer.alloc(32_000, 7), 200));
    expect((await live.stop()).ok).toBe(true);
  } finally {
    live.close();
  }
  // (stop acknowledges once the recording is stored)
  const [row] = await queryDb<{ key: string }>(t.databaseUrl, "SELECT object_key AS key FROM recordings WHERE upload_state = 'completed'");
  recordingKey = row!.key;
}, 60_000);
afterAll(() => t?.close());

const url = (key: string) => `${endpoint}/${t.service.store.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

describe('the embedded S3-API store', () => {
  it('refuses anonymous GET, PUT, DELETE and listing with 403 AccessDenied, and the recording stays', async () => {
    for (const [method, path, body] of [
      ['GET', url(recordingKey), undefined],
      ['HEAD', url(recordingKey), undefined],
      ['PUT', url(recordingKey), 'overwritten'],
      ['DELETE', url(recordingKey), undefined],
      ['GET', `${endpoint}/${t.service.store.bucket}?list-type=2`, undefined],
      ['GET', `${endpoint}/`, undefined],
    ] as const) {
      const res = await fetch(path, { method, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      if (method !== 'HEAD') expect(await res.text()).toContain('<Code>AccessDenied</Code>');
    }
    const obj = await t.service.store.client.send(new GetObjectCommand({ Bucket: t.service.store.bucket, Key: recordingKey }));
    expect((await obj.Body!.transformToByteArray()).length).toBeGreaterThan(32_000);
  });

  it("refuses s3rver's own fixed key S3RVER/S3RVER and a wrong secret, signed correctly otherwise", async () => {
    const creds = (t.service.store.client.config as unknown as { credentials: () => Promise<{ accessKeyId: string }> }).credentials;
    const ours = await creds();
    expect(ours.accessKeyId).not.toBe('S3RVER');
    for (const credentials of [
      { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      { accessKeyId: ours.accessKeyId, secretAccessKey: 'not-the-secret' },
    ]) {
      const intruder = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, maxAttempts: 1 });
      try {
        for (const command of [
          new GetObjectCommand({ Bucket: t.service.store.bucket, Key: recordingKey }),
          new PutObjectCommand({ Bucket: t.service.store.bucket, Key: recordingKey, Body: 'overwritten' }),
          new DeleteObjectCommand({ Bucket: t.service.store.bucket, Key: recordingKey }),
        ]) {
          await expect(intruder.send(command as never), `${credentials.accessKeyId} ${command.constructor.name}`).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
        }
      } finally {
        intruder.destroy();
      }
    }
  });

  it("serves the service's own signed requests: write, read, delete, and /health's storage check", async () => {
    const { client, bucket } = t.service.store;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'recordings/probe/a b+c.txt', Body: 'signed' }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'recordings/probe/a b+c.txt' }));
    expect(await got.Body!.transformToString()).toBe('signed');
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'recordings/probe/a b+c.txt' }));
    await expect(t.service.store.check()).resolves.toBeUndefined();
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: EMBEDDED_HEALTH_KEY }));
    const health = await t.client().get('/health');
    expect(health.json.checks.storage).toMatchObject({ status: 'ok' });
  });
});
