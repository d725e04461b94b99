/**
 * A resume that lands on another task while the first still holds the session (its socket was cut
 * before it was told to stop; DEPLOYMENT.md "Stopping a task"): the new task asks the others
 * through the Socket.IO adapter, the holder tells its client, ends and stores the session with
 * `server_shutdown` and answers; the new task then continues it. Two real services on one
 * PostgreSQL and one S3 API.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '../../src/storage/embedded-s3.js';
import { createTestDatabase } from '../support/db.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { tonePcm } from '../support/coverage.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let s3: EmbeddedS3;
let a: TestService;
let b: TestService;
const clients: DictationClient[] = [];
const saved: Record<string, string | undefined> = {};
let s3dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  s3dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-handoff-s3-'));
  s3 = await startEmbeddedS3({ dir: s3dir });
  // The SDK reads credentials from the environment; both in-process tasks use the one S3 API.
  for (const [k, v] of Object.entries({ AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  const env = { SESSION_SECRET: 'one-secret-shared-by-both-test-tasks-0123456789', S3_BUCKET: s3.bucket, AWS_ENDPOINT_URL_S3: s3.endpoint };
  a = await startTestService(env, {}, { url: db.url });
  b = await startTestService(env, {}, { url: db.url });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await b?.close();
  await a?.close();
  await s3?.close();
  await db?.drop();
  fs.rmSync(s3dir, { recursive: true, force: true });
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('session hand-over between tasks', () => {
  it('continues on task B a session task A still holds: A tells its client, stores part 0 and hands over; nothing acknowledged is lost', async () => {
    const { http } = await a.loggedIn('clinician');
    const chunks = pcmChunks(tonePcm(4000), 200);
    const onA = new DictationClient(a.url, http.cookieHeader);
    clients.push(onA);
    expect((await onA.start()).ok).toBe(true);
    await onA.stream(chunks.slice(0, 10), { inFlight: 1 });

    // The client's connection to A is still up (as when the load balancer routes a reconnect elsewhere).
    const onB = new DictationClient(b.url, http.cookieHeader);
    clients.push(onB);
    await onB.connected();
    const asked = Date.now();
    const resumed = await onB.request('session:resume', { sessionId: onA.sessionId, lastSeq: 9 });
    const handoverMs = Date.now() - asked;
    expect(resumed).toMatchObject({ ok: true, ackSeq: 9 });
    expect(handoverMs).toBeLessThan(5000);
    // A's client heard it, while its socket still worked.
    expect(onA.received.errors.map((e) => e.code)).toContain('server_shutdown');
    expect(onA.received.notices.map((e) => e.code)).toContain('server_shutdown');
    expect(onA.received.ended).toEqual([expect.objectContaining({ sessionId: onA.sessionId, reason: 'server_shutdown' })]);
    expect(a.logs.entries.some((l) => l.msg === 'session_handed_off')).toBe(true);
    expect(a.service.sessions.liveCount).toBe(0);

    onB.sessionId = onA.sessionId;
    await onB.stream(chunks.slice(10), { inFlight: 1, firstSeq: 10 });
    const stop = ok(await onB.stop());
    expect(stop).toMatchObject({ ok: true, transcriptionId: onA.transcriptionId });
    expect(Math.abs(stop.durationMs - 4000)).toBeLessThan(20);
    const [row] = await queryDb<{ status: string; end_reason: string; resume_part: number }>(db.url, 'SELECT status, end_reason, resume_part FROM transcriptions WHERE id = $1', [onA.transcriptionId]);
    expect(row).toMatchObject({ status: 'completed', end_reason: 'stopped', resume_part: 1 });
  }, 60_000);

  it('refuses to hand over another user\'s session', async () => {
    const owner = await a.loggedIn('clinician');
    const other = await b.loggedIn('clinician');
    const onA = new DictationClient(a.url, owner.http.cookieHeader);
    clients.push(onA);
    expect((await onA.start()).ok).toBe(true);
    const onB = new DictationClient(b.url, other.http.cookieHeader);
    clients.push(onB);
    await onB.connected();
    const res = await onB.request('session:resume', { sessionId: onA.sessionId, lastSeq: 0 });
    expect(res).toMatchObject({ ok: false, error: { code: 'session_not_found' } });
    expect(a.service.sessions.liveCount).toBe(1);
    expect((await onA.stop()).ok).toBe(true);
  }, 60_000);
});
