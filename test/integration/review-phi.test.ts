import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TONE_AMPLITUDE, TONE_HZ } from '../../src/transcripts/phi/redact-detail.js';
import { OggDemuxer } from '../../src/audio/ogg-demuxer.js';
import { opusPacketSamples48k } from '../../src/audio/opus-packet.js';
import { encodeOpus, readSharedPcm } from '../support/audio.js';
import type { HttpClient } from '../support/http.js';
import { seedTranscription, storeRecording } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

type Actor = { http: HttpClient; user: { id: string; username: string } };
let t: TestService;
let reviewer: Actor;
let admin: Actor;
let id: string;

const PHI = ['Sharma', '12/03/2026', '07700', '900123'];
const w = (text: string, startMs: number, endMs: number) => ({ text, startMs, endMs, confidence: 0.95 });

beforeAll(async () => {
  t = await startTestService();
  [reviewer, admin] = await Promise.all([t.loggedIn('reviewer'), t.loggedIn('admin')]);
  const clinician = await t.createUser('clinician');
  // A stand-in transcript over a real recording: a name (also typed in the title), a date, a phone number.
  id = await seedTranscription(t.databaseUrl, {
    clinicianId: clinician.id,
    title: 'Mrs Sharma review',
    durationMs: 11_000,
    segments: [
      { startMs: 0, endMs: 4000, text: 'Mrs Sharma was seen on 12/03/2026', speaker: 'spk_0', words: [w('Mrs', 0, 400), w('Sharma', 400, 1100), w('was', 1100, 1500), w('seen', 1500, 2000), w('on', 2000, 2400), w('12/03/2026', 2400, 4000)] },
      { startMs: 4000, endMs: 8000, text: 'call her on 07700 900123 please', speaker: 'spk_0', words: [w('call', 4000, 4400), w('her', 4400, 4800), w('on', 4800, 5000), w('07700', 5000, 6000), w('900123', 6000, 7200), w('please', 7200, 8000)] },
      { startMs: 8000, endMs: 11_000, text: 'no change in the knee', speaker: 'spk_1' },
    ],
  });
  await storeRecording(t.service, id, 'real/jfk.wav');
});
afterAll(() => t?.close());

describe('PHI: redacted views and exports', () => {
  it('exports redacted text in every format with none of the name, date or phone number, while the plain export keeps them', async () => {
    for (const format of ['txt', 'srt', 'vtt', 'json']) {
      const plain = await reviewer.http.get(`/api/transcriptions/${id}/export?format=${format}`);
      for (const p of PHI) expect(plain.text, `${format} plain`).toContain(p);
      const red = await reviewer.http.get(`/api/transcriptions/${id}/export?format=${format}&redact=true`);
      expect(red.status).toBe(200);
      for (const p of PHI) expect(red.text, `${format} redacted`).not.toContain(p);
      expect(red.text).toContain('[NAME]');
      expect(red.text).toContain('[DATE]');
      expect(red.text).toContain('[PHONE]');
    }
    const json = (await reviewer.http.get(`/api/transcriptions/${id}/export?format=json&redact=true`)).json;
    expect(json).toMatchObject({ redacted: true, title: 'Mrs [NAME] review' });
    expect(json.segments[1]).toMatchObject({ text: 'call her on [PHONE] please', machineText: 'call her on [PHONE] please' });
  });

  it('shows a reviewer set to redacted-by-default the redacted view, and reveals it only with a reason, audited', async () => {
    const nurse = await t.loggedIn('reviewer');
    expect((await reviewer.http.request('PUT', `/api/admin/users/${nurse.user.id}/redact-phi`, { json: { redactPhi: true } })).status).toBe(403);
    const set = await admin.http.request('PUT', `/api/admin/users/${nurse.user.id}/redact-phi`, { json: { redactPhi: true } });
    expect(set.status).toBe(200);

    const view = await nurse.http.get(`/api/transcriptions/${id}`);
    expect(view.json.redacted).toBe(true);
    const body = JSON.stringify(view.json);
    for (const p of PHI) expect(body).not.toContain(p);
    // No word timings point at the words taken out.
    expect(view.json.segments[0].tokens.every((tk: { startMs?: number }) => tk.startMs === undefined)).toBe(true);
    // ?redact=false does not lift it; the export is redacted too.
    expect(JSON.stringify((await nurse.http.get(`/api/transcriptions/${id}?redact=false`)).json)).not.toContain('Sharma');
    expect((await nurse.http.get(`/api/transcriptions/${id}/export?format=txt`)).text).not.toContain('Sharma');
    const list = await nurse.http.get('/api/transcriptions');
    expect(list.json.items.find((i: { id: string }) => i.id === id)?.title).toBe('Mrs [NAME] review');

    expect((await nurse.http.post(`/api/transcriptions/${id}/reveal`, {})).status).toBe(400);
    const revealed = await nurse.http.post(`/api/transcriptions/${id}/reveal`, { reason: 'Confirming identity with the ward' });
    expect(revealed.status).toBe(200);
    expect(revealed.json.segments[0].text).toBe('Mrs Sharma was seen on 12/03/2026');
    const rows = await queryDb<{ details: { reason: string } }>(
      t.databaseUrl,
      `SELECT details FROM audit_log WHERE action = 'transcription.reveal' AND actor_id = $1 AND target_id = $2`,
      [nurse.user.id, id],
    );
    expect(rows.map((r) => r.details.reason)).toEqual(['Confirming identity with the ward']);
  });
});

describe('PHI: redacted audio', () => {
  it('replaces the spoken name, date and phone number with a tone using the word timings, and leaves the rest of the recording as it was', async () => {
    const res = await fetch(`${t.url}/api/transcriptions/${id}/audio/redacted`, { headers: { cookie: reviewer.http.cookieHeader } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    const wav = Buffer.from(await res.arrayBuffer());
    const pcm = wav.subarray(44);
    const original = readSharedPcm('real/jfk.wav');
    expect(pcm.length).toBe(original.length);
    const sample = (buf: Buffer, ms: number) => buf.readInt16LE(Math.floor((ms * 16000) / 1000) * 2);
    const tone = (ms: number) => {
      const i = Math.floor((ms * 16000) / 1000);
      return Math.round(TONE_AMPLITUDE * Math.sin((2 * Math.PI * TONE_HZ * i) / 16000)) || 0; // no -0
    };
    // Every sample of the PHI words is tone: the name (400–1100), the date (2400–4000), the phone number (5000–7200).
    for (const [from, to] of [
      [400, 1100],
      [2400, 4000],
      [5000, 7200],
    ] as const) {
      for (let ms = from; ms < to; ms += 1000 / 16000 * 7) expect(sample(pcm, ms), `at ${ms} ms`).toBe(tone(ms));
    }
    // Words that are not PHI ("was seen", "please", the last line) are the recording itself.
    for (const [from, to] of [
      [1300, 2200],
      [7400, 11_000],
    ] as const) {
      const a = pcm.subarray(Math.floor((from * 16000) / 1000) * 2, Math.floor((to * 16000) / 1000) * 2);
      const b = original.subarray(Math.floor((from * 16000) / 1000) * 2, Math.floor((to * 16000) / 1000) * 2);
      expect(a.equals(b)).toBe(true);
    }
    const rows = await queryDb<{ details: { redacted?: boolean; spans?: number } }>(
      t.databaseUrl,
      `SELECT details FROM audit_log WHERE action = 'transcription.playback' AND target_id = $1 AND actor_id = $2`,
      [id, reviewer.user.id],
    );
    expect(rows.map((r) => r.details)).toContainEqual({ redacted: true, spans: 3 });
  });
});

describe('PHI: redacted audio of an Ogg Opus recording', () => {
  it('decodes the Opus recording, replaces the name, date and phone number with the tone at their word times, and keeps the speech around them', async () => {
    const clinician = await t.createUser('clinician');
    const oggId = await seedTranscription(t.databaseUrl, {
      clinicianId: clinician.id,
      title: 'Mrs Sharma review',
      durationMs: 11_000,
      segments: [
        { startMs: 0, endMs: 4000, text: 'Mrs Sharma was seen on 12/03/2026', speaker: 'spk_0', words: [w('Mrs', 0, 400), w('Sharma', 400, 1100), w('was', 1100, 1500), w('seen', 1500, 2000), w('on', 2000, 2400), w('12/03/2026', 2400, 4000)] },
        { startMs: 4000, endMs: 8000, text: 'call her on 07700 900123 please', speaker: 'spk_0', words: [w('call', 4000, 4400), w('her', 4400, 4800), w('on', 4800, 5000), w('07700', 5000, 6000), w('900123', 6000, 7200), w('please', 7200, 8000)] },
        { startMs: 8000, endMs: 11_000, text: 'no change in the knee', speaker: 'spk_1' },
      ],
    });
    // The recording as an Opus session stores it: the packets of an Ogg Opus encoding of jfk.wav,
    // written by the service's recorder into its own Ogg.
    const packets = new OggDemuxer().push(await encodeOpus('real/jfk.wav', 'ogg', false));
    const head = packets[0]!;
    expect(head.subarray(0, 8).toString()).toBe('OpusHead');
    const writer = await t.service.recordings.open({ transcriptionId: oggId, encoding: 'ogg_opus', opusHead: { channels: head[9]!, preSkip: head.readUInt16LE(10), inputSampleRate: head.readUInt32LE(12) } });
    await writer.appendOpus(packets.slice(2).map((p) => ({ data: p, samples48k: opusPacketSamples48k(p) })));
    expect((await writer.finish()).state).toBe('completed');

    const res = await fetch(`${t.url}/api/transcriptions/${oggId}/audio/redacted`, { headers: { cookie: reviewer.http.cookieHeader } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    const wav = Buffer.from(await res.arrayBuffer());
    expect(wav.readUInt32LE(24)).toBe(16000);
    const pcm = wav.subarray(44);
    const original = readSharedPcm('real/jfk.wav');
    // The whole recording, on the session's timeline (Opus frames of 20 ms at the end).
    expect(Math.abs(pcm.length - original.length)).toBeLessThanOrEqual(20 * 32);
    const at = (ms: number) => Math.floor((ms * 16000) / 1000);
    const tone = (i: number) => Math.round(TONE_AMPLITUDE * Math.sin((2 * Math.PI * TONE_HZ * i) / 16000)) || 0;
    for (const [from, to] of [
      [400, 1100],
      [2400, 4000],
      [5000, 7200],
    ] as const) {
      for (let i = at(from); i < at(to); i += 7) expect(pcm.readInt16LE(i * 2), `sample ${i}`).toBe(tone(i));
    }
    // Outside the PHI: the decoded speech, not the tone and not silence, as loud as the original there
    // (Opus at 32 kb/s keeps the level within a few dB; "was seen" and "please … knee").
    const rms = (buf: Buffer, from: number, to: number) => {
      let sum = 0;
      for (let i = at(from); i < at(to); i++) sum += buf.readInt16LE(i * 2) ** 2;
      return Math.sqrt(sum / (at(to) - at(from)));
    };
    for (const [from, to] of [
      [1300, 2200],
      [7400, 10_500],
    ] as const) {
      const db = 20 * Math.log10(rms(pcm, from, to) / rms(original, from, to));
      expect(Math.abs(db), `level ${from}-${to} ms`).toBeLessThan(3);
      let toneLike = 0;
      for (let i = at(from); i < at(to); i++) if (pcm.readInt16LE(i * 2) === tone(i)) toneLike++;
      expect(toneLike / (at(to) - at(from))).toBeLessThan(0.01);
    }
  });
});
