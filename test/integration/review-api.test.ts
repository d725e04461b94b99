import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpClient } from '../support/http.js';
import { seedTranscription } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

type Actor = { http: HttpClient; user: { id: string; username: string } };
let t: TestService;
let alice: Actor;
let bob: Actor;
let reviewer: Actor;
let reviewer2: Actor;
let admin: Actor;

beforeAll(async () => {
  t = await startTestService();
  [alice, bob, reviewer, reviewer2, admin] = await Promise.all([
    t.loggedIn('clinician'),
    t.loggedIn('clinician'),
    t.loggedIn('reviewer'),
    t.loggedIn('reviewer'),
    t.loggedIn('admin'),
  ]);
});
afterAll(() => t?.close());

const patch = (a: Actor, id: string, segId: string, json: unknown) => a.http.request('PATCH', `/api/transcriptions/${id}/segments/${segId}`, { json });

async function consult(clinicianId: string, status: 'completed' | 'recording' | 'failed' = 'completed') {
  const id = await seedTranscription(t.databaseUrl, {
    clinicianId,
    status,
    segments: [
      { startMs: 0, endMs: 3000, text: 'Any allergies to medication?', speaker: 'spk_0' },
      { startMs: 3000, endMs: 7000, text: 'I take met a pro lol 25 mg twice daily.', speaker: 'spk_1' },
      { startMs: 7000, endMs: 9000, text: 'And pain in the left knee.', speaker: 'spk_1' },
    ],
  });
  const detail = await reviewer.http.get(`/api/transcriptions/${id}`);
  return { id, segs: detail.json.segments as Array<{ id: string; text: string; machineText: string; speaker: string }> };
}

async function audit(id: string) {
  return queryDb<{ action: string; outcome: string; actor_username: string; details: Record<string, unknown> }>(
    t.databaseUrl,
    `SELECT action, outcome, actor_username, details FROM audit_log WHERE target_id = $1 AND action NOT IN ('transcription.view') ORDER BY id`,
    [id],
  );
}

describe('review: edits with provenance', () => {
  it('starts at version 1 with machineText equal to text, and an edit raises the version, keeps the machine text and moves completed → in_review', async () => {
    const { id, segs } = await consult(alice.user.id);
    const before = await reviewer.http.get(`/api/transcriptions/${id}`);
    expect(before.json).toMatchObject({ version: 1, status: 'completed', signature: null });
    expect(segs[1]).toMatchObject({ text: 'I take met a pro lol 25 mg twice daily.', machineText: 'I take met a pro lol 25 mg twice daily.' });

    const res = await patch(reviewer, id, segs[1]!.id, { text: 'I take metoprolol 25 mg twice daily.', version: 1 });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      version: 2,
      segment: { id: segs[1]!.id, text: 'I take metoprolol 25 mg twice daily.', machineText: 'I take met a pro lol 25 mg twice daily.', speaker: 'spk_1', startMs: 3000, endMs: 7000 },
    });
    const after = await reviewer.http.get(`/api/transcriptions/${id}`);
    expect(after.json).toMatchObject({ version: 2, status: 'in_review' });
    expect(after.json.segments[1]).toMatchObject({ text: 'I take metoprolol 25 mg twice daily.', machineText: 'I take met a pro lol 25 mg twice daily.' });

    // Speaker of one segment, then the text again: machine text never moves.
    const sp = await patch(reviewer, id, segs[0]!.id, { speaker: 'Clinician', version: 2 });
    expect(sp.json.version).toBe(3);
    const again = await patch(reviewer, id, segs[1]!.id, { text: 'I take metoprolol 25 mg twice a day.', version: 3 });
    expect(again.json.segment.machineText).toBe('I take met a pro lol 25 mg twice daily.');

    const history = await reviewer.http.get(`/api/transcriptions/${id}/history`);
    expect(history.status).toBe(200);
    const items = history.json.items as Array<Record<string, unknown>>;
    expect(items.map((i) => [i.version, i.field, i.before, i.after])).toEqual([
      [2, 'status', 'completed', 'in_review'],
      [2, 'text', 'I take met a pro lol 25 mg twice daily.', 'I take metoprolol 25 mg twice daily.'],
      [3, 'speaker', 'spk_0', 'Clinician'],
      [4, 'text', 'I take metoprolol 25 mg twice daily.', 'I take metoprolol 25 mg twice a day.'],
    ]);
    expect(items[1]).toMatchObject({ segmentId: segs[1]!.id, by: { id: reviewer.user.id, username: reviewer.user.username } });
    expect(items[1]!.at).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    // Every change is in the audit log, without the text.
    const rows = await audit(id);
    expect(rows.filter((r) => r.action === 'transcription.edit').map((r) => r.details.version)).toEqual([2, 3, 4]);
    expect(JSON.stringify(rows)).not.toContain('metoprolol');
  });

  it('gives a second reviewer\'s stale edit 409 edit_conflict with the current version, and loses nothing', async () => {
    const { id, segs } = await consult(alice.user.id);
    const first = await patch(reviewer, id, segs[2]!.id, { text: 'And pain in the right knee.', version: 1 });
    expect(first.status).toBe(200);
    const stale = await patch(reviewer2, id, segs[2]!.id, { text: 'And pain in both knees.', version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.json.error).toMatchObject({ code: 'edit_conflict', version: 2 });
    const rename = await reviewer2.http.post(`/api/transcriptions/${id}/speakers`, { from: 'spk_1', to: 'Patient', version: 1 });
    expect(rename.status).toBe(409);
    expect(rename.json.error.code).toBe('edit_conflict');
    const detail = await reviewer.http.get(`/api/transcriptions/${id}`);
    expect(detail.json.segments[2].text).toBe('And pain in the right knee.');
    expect(detail.json.version).toBe(2);
    expect((await audit(id)).filter((r) => r.outcome === 'failure').map((r) => [r.actor_username, r.details.code])).toEqual([
      [reviewer2.user.username, 'edit_conflict'],
      [reviewer2.user.username, 'edit_conflict'],
    ]);
  });

  it('answers two simultaneous edits on the same version with one 200 and one 409', async () => {
    const { id, segs } = await consult(alice.user.id);
    const results = await Promise.all([
      patch(reviewer, id, segs[0]!.id, { text: 'Any drug allergies?', version: 1 }),
      patch(reviewer2, id, segs[0]!.id, { text: 'Any allergies at all?', version: 1 }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  it('renames a speaker in every segment at once, one history row per segment', async () => {
    const { id } = await consult(alice.user.id);
    const res = await reviewer.http.post(`/api/transcriptions/${id}/speakers`, { from: 'spk_1', to: 'Patient', version: 1 });
    expect(res.status).toBe(200);
    expect(res.json.version).toBe(2);
    const detail = await reviewer.http.get(`/api/transcriptions/${id}`);
    expect(detail.json.segments.map((s: { speaker: string }) => s.speaker)).toEqual(['spk_0', 'Patient', 'Patient']);
    const history = await reviewer.http.get(`/api/transcriptions/${id}/history`);
    expect(history.json.items.filter((i: { field: string }) => i.field === 'speaker')).toHaveLength(2);
    expect((await audit(id)).find((r) => r.action === 'transcription.speaker_rename')?.details).toMatchObject({ segments: 2, version: 2 });
  });

  it('lets a clinician edit their own transcript, and answers 404 for another clinician\'s (edit, rename, sign, history)', async () => {
    const { id, segs } = await consult(alice.user.id);
    expect((await patch(alice, id, segs[0]!.id, { text: 'Any known allergies?', version: 1 })).status).toBe(200);
    const other = await patch(bob, id, segs[0]!.id, { text: 'Hijacked.', version: 2 });
    expect(other.status).toBe(404);
    expect(other.json.error.code).toBe('not_found');
    expect((await bob.http.post(`/api/transcriptions/${id}/speakers`, { from: 'spk_0', to: 'X', version: 2 })).status).toBe(404);
    expect((await bob.http.post(`/api/transcriptions/${id}/sign`, { version: 2 })).status).toBe(404);
    expect((await bob.http.get(`/api/transcriptions/${id}/history`)).status).toBe(404);
    const detail = await alice.http.get(`/api/transcriptions/${id}`);
    expect(detail.json.segments[0].text).toBe('Any known allergies?');
    const denied = await queryDb<{ action: string }>(t.databaseUrl, `SELECT action FROM audit_log WHERE target_id = $1 AND actor_id = $2 AND outcome = 'denied'`, [id, bob.user.id]);
    expect(denied.map((d) => d.action).sort()).toEqual(['transcription.edit', 'transcription.history', 'transcription.sign', 'transcription.speaker_rename']);
  });

  it('answers 404 for a segment of another transcription, 400 for an empty change, 409 while still recording', async () => {
    const a = await consult(alice.user.id);
    const b = await consult(alice.user.id);
    expect((await patch(reviewer, a.id, b.segs[0]!.id, { text: 'x', version: 1 })).status).toBe(404);
    const empty = await patch(reviewer, a.id, a.segs[0]!.id, { version: 1 });
    expect(empty.status).toBe(400);
    expect(empty.json.error.code).toBe('invalid_payload');
    const live = await consult(alice.user.id, 'recording');
    const res = await patch(reviewer, live.id, live.segs[0]!.id, { text: 'x', version: 1 });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('conflict');
  });
});

describe('review: sign-off', () => {
  it('signs a version, makes the transcript read-only (409 transcript_signed), and an admin reopens it with a reason', async () => {
    const { id, segs } = await consult(alice.user.id);
    await patch(reviewer, id, segs[1]!.id, { text: 'I take metoprolol 25 mg twice daily.', version: 1 });
    const stale = await reviewer.http.post(`/api/transcriptions/${id}/sign`, { version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.json.error).toMatchObject({ code: 'edit_conflict', version: 2 });

    const signed = await reviewer.http.post(`/api/transcriptions/${id}/sign`, { version: 2, unreviewedFlags: 3 });
    expect(signed.status).toBe(200);
    expect(signed.json).toMatchObject({ status: 'signed', version: 2, signedBy: { id: reviewer.user.id, username: reviewer.user.username } });
    expect(signed.json.signedAt).toMatch(/^\d{4}-/);
    const detail = await reviewer.http.get(`/api/transcriptions/${id}`);
    expect(detail.json).toMatchObject({ status: 'signed', version: 2, signature: { version: 2, signedBy: { username: reviewer.user.username } } });

    const locked = await patch(reviewer2, id, segs[0]!.id, { text: 'changed', version: 2 });
    expect(locked.status).toBe(409);
    expect(locked.json.error.code).toBe('transcript_signed');
    expect((await reviewer2.http.post(`/api/transcriptions/${id}/speakers`, { from: 'spk_1', to: 'P', version: 2 })).json.error.code).toBe('transcript_signed');
    expect((await reviewer2.http.post(`/api/transcriptions/${id}/sign`, { version: 2 })).json.error.code).toBe('transcript_signed');

    // Exports say the version and that it is signed.
    const json = await reviewer.http.get(`/api/transcriptions/${id}/export?format=json`);
    expect(json.json).toMatchObject({ version: 2, status: 'signed', signature: { version: 2 } });
    expect(json.json.segments[1]).toMatchObject({ text: 'I take metoprolol 25 mg twice daily.', machineText: 'I take met a pro lol 25 mg twice daily.' });
    const srt = await reviewer.http.get(`/api/transcriptions/${id}/export?format=srt`);
    expect(srt.text).toContain('metoprolol 25 mg');
    expect(srt.headers.get('x-transcript-version')).toBe('2');
    expect(srt.headers.get('x-transcript-signed')).toBe('true');
    expect((await reviewer.http.get(`/api/transcriptions/${id}/export?format=vtt`)).text).toContain(`NOTE Version 2, signed by ${reviewer.user.username}`);

    // Only an admin reopens, and only with a reason.
    const notAdmin = await reviewer.http.post(`/api/transcriptions/${id}/reopen`, { reason: 'Wrong dose heard' });
    expect(notAdmin.status).toBe(403);
    expect((await admin.http.post(`/api/transcriptions/${id}/reopen`, {})).status).toBe(400);
    const reopened = await admin.http.post(`/api/transcriptions/${id}/reopen`, { reason: 'Dose to be checked against the chart' });
    expect(reopened.status).toBe(200);
    expect(reopened.json).toEqual({ status: 'in_review', version: 2 });
    expect((await patch(reviewer2, id, segs[0]!.id, { text: 'Any allergies?', version: 2 })).status).toBe(200);

    const history = (await reviewer.http.get(`/api/transcriptions/${id}/history`)).json.items as Array<Record<string, unknown>>;
    expect(history.filter((i) => i.field === 'status').map((i) => [i.before, i.after, i.reason ?? null])).toEqual([
      ['completed', 'in_review', null],
      ['in_review', 'signed', null],
      ['signed', 'in_review', 'Dose to be checked against the chart'],
    ]);
    const rows = await audit(id);
    expect(rows.find((r) => r.action === 'transcription.sign' && r.outcome === 'success')?.details).toMatchObject({ version: 2, unreviewedFlags: 3 });
    expect(rows.find((r) => r.action === 'transcription.reopen' && r.outcome === 'success')?.details).toMatchObject({ reason: 'Dose to be checked against the chart', signedVersion: 2 });
    expect(rows.some((r) => r.action === 'transcription.reopen' && r.outcome === 'denied')).toBe(true);
  });

  it('lists signed and in-review transcriptions under their status filter', async () => {
    const { id } = await consult(alice.user.id);
    await reviewer.http.post(`/api/transcriptions/${id}/sign`, { version: 1 });
    const list = await reviewer.http.get('/api/transcriptions?status=signed');
    expect(list.status).toBe(200);
    expect(list.json.items.map((i: { id: string }) => i.id)).toContain(id);
  });
});

describe('review: confidence and risky words', () => {
  it('gives each segment tokens with low-confidence, fallback-engine and risk flags, and a flagged count', async () => {
    const id = await seedTranscription(t.databaseUrl, {
      clinicianId: alice.user.id,
      segments: [
        {
          startMs: 0,
          endMs: 2000,
          text: 'Start warfarin 5 mg',
          speaker: 'spk_0',
          words: [
            { text: 'Start', startMs: 0, endMs: 400, confidence: 0.99 },
            { text: 'warfarin', startMs: 400, endMs: 1000, confidence: 0.35 },
            { text: '5', startMs: 1000, endMs: 1400, confidence: 0.97 },
            { text: 'mg', startMs: 1400, endMs: 2000, confidence: 0.97 },
          ],
        },
        // Produced by the fallback engine while the primary was out.
        { startMs: 2000, endMs: 3000, text: 'see you soon', speaker: 'spk_0', engine: 'local-fallback' },
      ],
    });
    const res = await reviewer.http.get(`/api/transcriptions/${id}`);
    const [first, second] = res.json.segments;
    expect(first.tokens).toEqual([
      { text: 'Start', startMs: 0, endMs: 400, confidence: 0.99 },
      { text: 'warfarin', startMs: 400, endMs: 1000, confidence: 0.35, flags: ['low_confidence', 'drug'] },
      { text: '5', startMs: 1000, endMs: 1400, confidence: 0.97, flags: ['dose'] },
      { text: 'mg', startMs: 1400, endMs: 2000, confidence: 0.97, flags: ['dose'] },
    ]);
    expect(first.flagged).toBe(3);
    expect(second.tokens.every((tk: { flags?: string[] }) => tk.flags?.includes('fallback'))).toBe(true);
    // The JSON export keeps to text and machine text.
    const json = (await reviewer.http.get(`/api/transcriptions/${id}/export?format=json`)).json;
    expect(json.segments[0].tokens).toBeUndefined();
  });
});
