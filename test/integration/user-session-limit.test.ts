/**
 * MAX_SESSIONS_PER_USER: one account cannot hold more than its share of a task's live sessions,
 * whether it starts them one by one, all at once, leaves them waiting in their grace period, or
 * brings them over from a task that shut down. Real Socket.IO clients against the real service.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startEmbeddedS3 } from '../../src/storage/embedded-s3.js';
import { tonePcm } from '../support/coverage.js';
import { createTestDatabase } from '../support/db.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function service(env: Record<string, string>, database?: { url: string }): Promise<TestService> {
  const t = await startTestService(env, {}, database);
  cleanups.push(() => t.close());
  return t;
}

/** A socket of an already logged-in user (another tab of the same browser). */
async function tab(url: string, cookie: string): Promise<DictationClient> {
  const c = new DictationClient(url, cookie);
  cleanups.push(() => c.close());
  await c.connected();
  return c;
}

const refused = { ok: false, error: { code: 'too_many_sessions', message: 'You already have 2 live sessions; stop one first.' } };

describe('MAX_SESSIONS_PER_USER', () => {
  it("refuses a user's third live session with too_many_sessions while another user still starts, and admits again after a stop", async () => {
    const t = await service({ MAX_SESSIONS_PER_USER: '2', LOG_REPEAT_WINDOW_MS: '200' });
    const { http, user } = await t.loggedIn('clinician');
    const [one, two, three] = [await tab(t.url, http.cookieHeader), await tab(t.url, http.cookieHeader), await tab(t.url, http.cookieHeader)];
    expect((await one.start()).ok).toBe(true);
    expect((await two.start()).ok).toBe(true);
    expect(await three.start()).toEqual(refused);

    const other = await t.loggedIn('clinician');
    const bystander = await tab(t.url, other.http.cookieHeader);
    expect((await bystander.start()).ok).toBe(true);

    expect((await one.stop()).ok).toBe(true);
    expect((await three.start()).ok).toBe(true);
    expect(await one.start()).toEqual(refused);

    // The refusal is logged with the user id and nothing that names anyone.
    // (Repeats within LOG_REPEAT_WINDOW_MS are one line with their count: `repeated`.)
    const warned = t.logs.entries.filter((e) => e.msg === 'user_session_limit_reached');
    await expect.poll(() => t.logs.entries.filter((e) => e.msg === 'user_session_limit_reached').reduce((n, e) => n + (typeof e.repeated === 'number' ? e.repeated : 1), 0)).toBe(2);
    expect(warned[0]).toMatchObject({ level: 'warn', userId: user.id, held: 2, limit: 2 });
    expect(JSON.stringify(warned)).not.toContain(user.username);
    // A refused start leaves no transcription behind.
    const rows = await queryDb<{ n: number }>(t.databaseUrl, 'SELECT count(*)::int AS n FROM transcriptions WHERE clinician_id = $1', [user.id]);
    expect(rows[0]!.n).toBe(3);
  });

  it('admits exactly MAX_SESSIONS_PER_USER of 6 concurrent starts from one user', async () => {
    const t = await service({ MAX_SESSIONS_PER_USER: '2' });
    const { http, user } = await t.loggedIn('clinician');
    const tabs = await Promise.all(Array.from({ length: 6 }, () => tab(t.url, http.cookieHeader)));
    const results = await Promise.all(tabs.map((c) => c.start()));
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 4 }, () => refused));
    expect(t.service.sessions.liveCount).toBe(2);
    const rows = await queryDb<{ n: number }>(t.databaseUrl, 'SELECT count(*)::int AS n FROM transcriptions WHERE clinician_id = $1', [user.id]);
    expect(rows[0]!.n).toBe(2);
  });

  it('counts a session waiting in its resume grace period, and still lets the user resume it', async () => {
    const t = await service({ MAX_SESSIONS_PER_USER: '2', RESUME_GRACE_MS: '20000' });
    const { http } = await t.loggedIn('clinician');
    const dropped = await tab(t.url, http.cookieHeader);
    const kept = await tab(t.url, http.cookieHeader);
    expect((await dropped.start()).ok).toBe(true);
    expect((await kept.start()).ok).toBe(true);
    const chunks = pcmChunks(tonePcm(2000), 200);
    await dropped.stream(chunks.slice(0, 5));
    dropped.close();

    // Detached, not ended: it still holds its place.
    const newTab = await tab(t.url, http.cookieHeader);
    expect(await newTab.start()).toEqual(refused);

    // Resuming it is the same session, not a new one: never refused by the limit.
    const back = await tab(t.url, http.cookieHeader);
    expect(await back.request('session:resume', { sessionId: dropped.sessionId, lastSeq: 9 })).toMatchObject({ ok: true, ackSeq: 4 });
    back.sessionId = dropped.sessionId!;
    back.transcriptionId = dropped.transcriptionId!;
    await back.stream(chunks.slice(5), { firstSeq: 5 });
    expect(await back.stop()).toMatchObject({ ok: true, transcriptionId: dropped.transcriptionId });
    expect((await newTab.start()).ok).toBe(true);
  });

  it('counts a session continued from a task that shut down as a new session on the task that continues it', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const s3dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-s3-'));
    cleanups.push(() => fs.rmSync(s3dir, { recursive: true, force: true }));
    const s3 = await startEmbeddedS3({ dir: s3dir });
    cleanups.push(() => s3.close());
    // Both tasks use one bucket, as in production; the SDK reads its credentials from the process.
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.credentials.secretAccessKey);
    cleanups.push(() => vi.unstubAllEnvs());
    const env = {
      MAX_SESSIONS_PER_USER: '2',
      SESSION_SECRET: 'one-secret-shared-by-both-test-tasks-0123456789',
      S3_BUCKET: s3.bucket,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
    };
    const a = await service(env, { url: db.url });
    const b = await service(env, { url: db.url });
    const { http } = await a.loggedIn('clinician');

    const moving = await tab(a.url, http.cookieHeader);
    expect((await moving.start()).ok).toBe(true);
    const chunks = pcmChunks(tonePcm(1000), 200);
    await moving.stream(chunks);
    const onB = [await tab(b.url, http.cookieHeader), await tab(b.url, http.cookieHeader)];
    for (const c of onB) expect((await c.start()).ok).toBe(true);

    await a.service.close();
    expect(moving.received.ended).toEqual([expect.objectContaining({ reason: 'server_shutdown' })]);

    const resumer = await tab(b.url, http.cookieHeader);
    const resume = () => resumer.request('session:resume', { sessionId: moving.sessionId, lastSeq: chunks.length - 1 });
    expect(await resume()).toEqual(refused);
    // Refused before the claim: the session still waits to be continued.
    const [row] = await queryDb<{ end_reason: string; resume_part: number }>(b.databaseUrl, 'SELECT end_reason, resume_part FROM transcriptions WHERE id = $1', [moving.transcriptionId]);
    expect(row).toEqual({ end_reason: 'server_shutdown', resume_part: 0 });

    expect((await onB[0]!.stop()).ok).toBe(true);
    expect(await resume()).toMatchObject({ ok: true, ackSeq: chunks.length - 1 });
    resumer.sessionId = moving.sessionId!;
    expect(await resumer.stop()).toMatchObject({ ok: true, transcriptionId: moving.transcriptionId });
  });
});
