/**
 * Custom vocabulary per specialty with the `aws` engine (issue 16, point 5), end to end: the admin
 * API saves a specialty's terms; the service writes the table file to the S3-API store and creates
 * (then updates) the medical vocabulary through the real @aws-sdk/client-transcribe against the
 * control-plane stand-in, which reads the file back and checks its table format; once the stand-in
 * reports it READY, sessions of that specialty stream with `VocabularyName` (the streaming stand-in
 * refuses a vocabulary that is not READY), other specialties without it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '../../src/storage/embedded-s3.js';
import { readSharedPcm } from '../support/audio.js';
import type { Specialty } from '../../src/transcription/port.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { startTestService, type TestService } from '../support/service.js';
import { startTranscribeServer, type TranscribeServer } from '../support/transcribe-server.js';
import { startVocabularyStandIn, type VocabularyStandIn } from '../support/transcribe-vocabularies.js';

let s3: EmbeddedS3;
let s3dir: string;
let vocab: VocabularyStandIn;
let transcribe: TranscribeServer;
let t: TestService;
const savedEnv: Record<string, string | undefined> = {};
const clients: DictationClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

beforeAll(async () => {
  s3dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-vocab-s3-'));
  s3 = await startEmbeddedS3({ dir: s3dir });
  const reader = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
  vocab = await startVocabularyStandIn({
    // What Transcribe does with VocabularyFileUri: reads the object (s3://bucket/key).
    readFile: async (uri) => {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
      if (!m) return undefined;
      try {
        const o = await reader.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
        return await o.Body!.transformToString('utf8');
      } catch {
        return undefined;
      }
    },
  });
  transcribe = await startTranscribeServer({ vocabularies: vocab });
  // The SDKs read credentials and these endpoints from the environment, as in production.
  for (const [k, v] of Object.entries({
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    AWS_ENDPOINT_URL_TRANSCRIBE: vocab.url,
    AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING: transcribe.url,
  })) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  t = await startTestService(
    { S3_BUCKET: s3.bucket, AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: 'us-east-1', TRANSCRIBE_ENGINE: 'aws', TRANSCRIBE_FALLBACK: 'none', TRANSCRIBE_VOCABULARY_PREFIX: 'arogya-test-' },
    { engine: 'configured', vocabulary: { pollMs: 100, cacheMs: 0 } },
  );
}, 60_000);

afterAll(async () => {
  await t?.close();
  await transcribe?.close();
  await vocab?.close();
  await s3?.close();
  fs.rmSync(s3dir, { recursive: true, force: true });
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const TERMS = [
  { phrase: 'tirzepatide', soundsLike: 'teer-zeh-pa-tide', displayAs: 'Tirzepatide' },
  { phrase: 'Heberden-nodes', displayAs: "Heberden's nodes" },
  { phrase: 'mavacamten' },
];

/** One short session of `specialty`; the StartMedicalStreamTranscription request it made. */
async function session(specialty: Specialty, cookie: string) {
  const before = transcribe.requests.length;
  const c = new DictationClient(t.url, cookie);
  clients.push(c);
  const started = await c.start({ title: 'Vocabulary check', specialty, type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } });
  expect(started).toMatchObject({ ok: true });
  await c.stream(pcmChunks(readSharedPcm('real/jfk.wav').subarray(0, 64_000), 250));
  expect(await c.stop()).toMatchObject({ ok: true });
  const reqs = transcribe.requests.slice(before);
  expect(reqs).toHaveLength(1);
  return reqs[0]!;
}

describe('custom vocabulary per specialty (engine aws)', () => {
  it('an admin saves CARDIOLOGY\'s terms: the table file goes to the bucket, the vocabulary is created PENDING, and only once READY do CARDIOLOGY sessions (not PRIMARYCARE ones) stream with its VocabularyName; a second save updates it, a stale one is 409', async () => {
    const { http: admin } = await t.loggedIn('admin');
    const { http: clinician } = await t.loggedIn('clinician');

    const empty = await admin.get('/api/admin/vocabularies/cardiology');
    expect(empty.status).toBe(200);
    expect(empty.json.vocabulary).toMatchObject({ specialty: 'CARDIOLOGY', version: 0, terms: [], engine: 'aws', transcribe: null });

    const saved = await admin.request('PUT', '/api/admin/vocabularies/CARDIOLOGY', { json: { version: 0, terms: TERMS } });
    expect(saved.status).toBe(200);
    expect(saved.json.vocabulary).toMatchObject({ version: 1, terms: TERMS, transcribe: { name: 'arogya-test-cardiology', version: 1, state: 'PENDING', failure: null } });

    const create = vocab.calls.find((c) => c.operation === 'CreateMedicalVocabulary');
    expect(create?.input).toEqual({ VocabularyName: 'arogya-test-cardiology', LanguageCode: 'en-US', VocabularyFileUri: `s3://${s3.bucket}/recordings/vocabularies/arogya-test-cardiology/v1.txt` });
    // The file Transcribe read is the table, as written.
    expect(vocab.vocabularies.get('arogya-test-cardiology')?.table).toBe(
      "Phrase\tSoundsLike\tIPA\tDisplayAs\ntirzepatide\tteer-zeh-pa-tide\t\tTirzepatide\nHeberden-nodes\t\t\tHeberden's nodes\nmavacamten\t\t\t\n",
    );

    // Still PENDING at Transcribe: a CARDIOLOGY session must not name it (it would be refused).
    const pending = await session('CARDIOLOGY', clinician.cookieHeader);
    expect(pending.vocabularyName).toBeUndefined();
    expect(pending.outcome).toBe('completed');

    vocab.process();
    await expect.poll(async () => (await admin.get('/api/admin/vocabularies/CARDIOLOGY')).json.vocabulary.transcribe.state, { timeout: 10_000 }).toBe('READY');

    const ready = await session('CARDIOLOGY', clinician.cookieHeader);
    expect(ready.vocabularyName).toBe('arogya-test-cardiology');
    expect(ready.specialty).toBe('CARDIOLOGY');
    expect(ready.outcome).toBe('completed');
    const other = await session('PRIMARYCARE', clinician.cookieHeader);
    expect(other.vocabularyName).toBeUndefined();

    // A second save replaces the terms through UpdateMedicalVocabulary with the new file.
    const again = await admin.request('PUT', '/api/admin/vocabularies/CARDIOLOGY', { json: { version: 1, terms: TERMS.slice(0, 1) } });
    expect(again.status).toBe(200);
    expect(vocab.calls.filter((c) => c.operation === 'UpdateMedicalVocabulary').map((c) => c.input.VocabularyFileUri)).toEqual([
      `s3://${s3.bucket}/recordings/vocabularies/arogya-test-cardiology/v2.txt`,
    ]);
    expect(vocab.vocabularies.get('arogya-test-cardiology')).toMatchObject({ state: 'PENDING', puts: 2 });
    // Being updated: not usable until READY again.
    expect((await session('CARDIOLOGY', clinician.cookieHeader)).vocabularyName).toBeUndefined();

    const stale = await admin.request('PUT', '/api/admin/vocabularies/CARDIOLOGY', { json: { version: 1, terms: [] } });
    expect(stale.status).toBe(409);
    expect(stale.json.error).toMatchObject({ code: 'vocabulary_conflict', version: 2 });
  }, 120_000);

  it('refuses terms Transcribe would reject, and is admin-only', async () => {
    const { http: admin } = await t.loggedIn('admin');
    for (const terms of [[{ phrase: 'two words' }], [{ phrase: 'ok', soundsLike: 'has space' }], [{ phrase: 'ok', displayAs: 'tab\there' }], [{ phrase: 'a' }, { phrase: 'A' }]]) {
      const res = await admin.request('PUT', '/api/admin/vocabularies/NEUROLOGY', { json: { version: 0, terms } });
      expect([JSON.stringify(terms), res.status, res.json.error.code]).toEqual([JSON.stringify(terms), 400, 'invalid_payload']);
    }
    expect((await admin.get('/api/admin/vocabularies/NOSUCH')).status).toBe(404);
    const { http: reviewer } = await t.loggedIn('reviewer');
    expect((await reviewer.get('/api/admin/vocabularies')).status).toBe(403);
    expect((await reviewer.request('PUT', '/api/admin/vocabularies/NEUROLOGY', { json: { version: 0, terms: [] } })).status).toBe(403);
    const list = await admin.get('/api/admin/vocabularies');
    expect(list.json.items.map((v: { specialty: string }) => v.specialty)).toEqual(['PRIMARYCARE', 'CARDIOLOGY', 'NEUROLOGY', 'ONCOLOGY', 'RADIOLOGY', 'UROLOGY']);
  });
});
