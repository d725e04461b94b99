import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createRecordingService } from '../../src/recordings/service.js';
import { wavHeader } from '../../src/recordings/wav.js';
import { getObject, pcmChunk, seedTranscription, sha256, silentLogger, useRecordingsEnv } from '../support/recordings.js';

const CHUNK = 64 * 1024;


const env = useRecordingsEnv();

async function rows(transcriptionId: string) {
  const r = await env.db.query(`SELECT * FROM recordings WHERE transcription_id = $1`, [transcriptionId]);
  const t = await env.db.query(`SELECT * FROM transcriptions WHERE id = $1`, [transcriptionId]);
  return { recording: r.rows[0], transcription: t.rows[0] };
}

/** Runs the child recorder until it has acknowledged `killAfter` chunks and uploaded a part, then SIGKILLs it. */
async function recordAndKill(transcriptionId: string, killAfter: number): Promise<{ lastAcked: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/recording-child.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      S3_ENDPOINT: env.s3.proxy.endpoint,
      S3_BUCKET: env.s3.s3.bucket,
      S3_ACCESS_KEY_ID: env.s3.s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: env.s3.s3.credentials.secretAccessKey,
      SPOOL_DIR: env.spoolRoot,
      TRANSCRIPTION_ID: transcriptionId,
      CHUNK_BYTES: String(CHUNK),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', () => {});
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  let lastAcked = -1;
  const lines = readline.createInterface({ input: child.stdout });
  for await (const line of lines) {
    const m = /^acked (\d+) uploaded (\d+)$/.exec(line);
    if (!m) continue;
    lastAcked = Number(m[1]);
    // Kill once S3 holds at least one part, so recovery must join S3's parts and the spool. The
    // child keeps appending until the signal lands: the lines it printed meanwhile are still read
    // (up to EOF), so `lastAcked` is the last chunk it really acknowledged.
    if (lastAcked + 1 >= killAfter && Number(m[2]) >= 1 && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  lines.close();
  const how = await exited;
  if (how !== 'SIGKILL') throw new Error(`child ended with ${String(how)} before the kill: ${stderr.slice(-2000)}`);
  return { lastAcked };
}

describe('recording crash recovery', () => {
  it('after SIGKILL mid-session, recovery at the next start stores every acknowledged chunk', async () => {
    const { transcriptionId } = await seedTranscription(env.db, { ownerTask: 'task-a' });
    // ≥ 12.5 MiB: part 1 (the WAV header part) stays spooled, part 2 is in S3, part 3 is being filled.
    const { lastAcked } = await recordAndKill(transcriptionId, 200);
    const before = await rows(transcriptionId);
    expect(before.recording.upload_state).toBe('uploading');
    expect(before.transcription.status).toBe('recording');
    expect(before.recording.parts.length).toBeGreaterThanOrEqual(1);

    const { store } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const outcomes = await service.recoverUnfinished({ taskId: 'task-a', retry: { baseMs: 50, maxMs: 200 } });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ transcriptionId, outcome: 'completed' });

    const after = await rows(transcriptionId);
    expect(after.recording.upload_state).toBe('completed');
    expect(after.transcription.status).toBe('completed');
    expect(after.transcription.end_reason).toBe('error');
    expect(after.transcription.failure_reason).toMatch(/recovered/);
    const stored = await getObject(store, after.recording.object_key);
    const dataBytes = stored.length - 44;
    // Every acknowledged chunk is there; at most the one being written when killed follows it.
    const ackedBytes = (lastAcked + 1) * CHUNK;
    expect(dataBytes === ackedBytes || dataBytes === ackedBytes + CHUNK).toBe(true);
    const chunks = Array.from({ length: dataBytes / CHUNK }, (_, seq) => pcmChunk(seq, CHUNK));
    const pcm = Buffer.concat(chunks);
    expect(sha256(stored)).toBe(sha256(Buffer.concat([wavHeader(16000, pcm.length), pcm])));
    expect(after.recording.sha256).toBe(sha256(stored));
    expect(Number(after.recording.duration_ms)).toBe(Math.round((pcm.length / 32000) * 1000));
    expect(fs.existsSync(path.join(env.spoolRoot, after.recording.id))).toBe(false);
  }, 90_000);

  it('a corrupt spool file fails that session with a reason; another crashed session is recovered', async () => {
    const { store } = env.s3.store();
    const live = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const bad = await seedTranscription(env.db, { ownerTask: 'task-b' });
    const good = await seedTranscription(env.db, { ownerTask: 'task-b', encoding: 'ogg_opus' });
    const badWriter = await live.open({ transcriptionId: bad.transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    const goodWriter = await live.open({ transcriptionId: good.transcriptionId, encoding: 'ogg_opus', opusHead: { channels: 1, preSkip: 312, inputSampleRate: 48000 } });
    for (let seq = 0; seq < 20; seq++) await badWriter.appendPcm(pcmChunk(seq, CHUNK));
    for (let seq = 0; seq < 200; seq++) await goodWriter.appendOpus([{ data: Buffer.alloc(80, seq), samples48k: 960 }]);
    // The process "dies": no finish, no more retries; the spools stay.
    live.close();
    const spoolFile = path.join(env.spoolRoot, badWriter.recordingId, 'part-00001.spool');
    const fd = fs.openSync(spoolFile, 'r+');
    fs.writeSync(fd, Buffer.from('garbage!'), 0, 8, 300_000);
    fs.closeSync(fd);

    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const outcomes = await service.recoverUnfinished({ taskId: 'task-b', retry: { baseMs: 50, maxMs: 200 } });
    const byId = new Map(outcomes.map((o) => [o.transcriptionId, o]));
    expect(byId.get(bad.transcriptionId)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/spool corrupt/) });
    expect(byId.get(good.transcriptionId)).toMatchObject({ outcome: 'completed' });

    const badRows = await rows(bad.transcriptionId);
    expect(badRows.recording.upload_state).toBe('failed');
    expect(badRows.recording.failure_reason).toMatch(/checksum mismatch/);
    expect(badRows.transcription.status).toBe('failed');
    expect(badRows.transcription.failure_reason).toMatch(/spool corrupt/);

    const goodRows = await rows(good.transcriptionId);
    expect(goodRows.recording.upload_state).toBe('completed');
    expect(goodRows.transcription.status).toBe('completed');
    const audioMs = (200 * 960 - 312) / 48;
    expect(Math.abs(Number(goodRows.recording.duration_ms) - audioMs) / audioMs).toBeLessThan(0.01);
    const stored = await getObject(store, goodRows.recording.object_key);
    const lastPage = stored.lastIndexOf(Buffer.from('OggS'));
    expect(stored[lastPage + 5]! & 0x04).toBe(0x04);

    // A second start finds nothing left to do.
    expect(await service.recoverUnfinished({ taskId: 'task-b' })).toEqual([]);
  }, 60_000);

  it('drops a chunk torn by the crash (written in part, never acknowledged) and keeps every whole one', async () => {
    const { store } = env.s3.store();
    const live = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const { transcriptionId } = await seedTranscription(env.db, { ownerTask: 'task-d' });
    const writer = await live.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    const chunks = Array.from({ length: 3 }, (_, seq) => pcmChunk(seq, CHUNK));
    for (const c of chunks) await writer.appendPcm(c);
    live.close();
    // What a kill in the middle of the next write leaves: a record header and part of its payload.
    const header = Buffer.alloc(12);
    header.write('ARS1', 0, 'latin1');
    header.writeUInt32LE(CHUNK, 4);
    fs.appendFileSync(path.join(env.spoolRoot, writer.recordingId, 'part-00001.spool'), Buffer.concat([header, pcmChunk(3, CHUNK).subarray(0, 1000)]));

    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const outcomes = await service.recoverUnfinished({ taskId: 'task-d' });
    expect(outcomes).toMatchObject([{ transcriptionId, outcome: 'completed', bytes: 44 + 3 * CHUNK }]);
    const { recording } = await rows(transcriptionId);
    const pcm = Buffer.concat(chunks);
    expect(sha256(await getObject(store, recording.object_key))).toBe(sha256(Buffer.concat([wavHeader(16000, pcm.length), pcm])));
  });

  it('without the spool (another host), completes from the uploaded parts and says what is missing', async () => {
    const { store } = env.s3.store();
    const live = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const { transcriptionId } = await seedTranscription(env.db, { ownerTask: 'task-e', encoding: 'ogg_opus' });
    const writer = await live.open({ transcriptionId, encoding: 'ogg_opus', opusHead: { channels: 1, preSkip: 0, inputSampleRate: 48000 } });
    for (let seq = 0; seq < 700; seq++) await writer.appendOpus([{ data: Buffer.alloc(10_000, seq), samples48k: 960 }]);
    for (let i = 0; i < 200 && writer.status().partsUploaded < 1; i++) await new Promise((r) => setTimeout(r, 25));
    expect(writer.status().partsUploaded).toBe(1);
    live.close();
    fs.rmSync(path.join(env.spoolRoot, writer.recordingId), { recursive: true });

    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const [outcome] = await service.recoverUnfinished({ taskId: 'task-e' });
    expect(outcome).toMatchObject({ transcriptionId, outcome: 'completed', reason: expect.stringMatching(/audio after the last uploaded part is missing/) });
    expect(outcome!.durationMs).toBeLessThan(700 * 20);
    expect(outcome!.durationMs).toBeGreaterThan(0);
    const { transcription } = await rows(transcriptionId);
    expect(transcription.status).toBe('completed');
    expect(transcription.failure_reason).toMatch(/missing/);
  });

  it('leaves sessions of another live task alone until their grace period has passed', async () => {
    const { store } = env.s3.store();
    const other = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const { transcriptionId } = await seedTranscription(env.db, { ownerTask: 'task-other' });
    const writer = await other.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    await writer.appendPcm(pcmChunk(0, CHUNK));
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    expect(await service.recoverUnfinished({ taskId: 'task-c', graceMs: 60_000 })).toEqual([]);
    await env.db.query(`UPDATE transcriptions SET last_audio_at = now() - interval '5 minutes' WHERE id = $1`, [transcriptionId]);
    other.close();
    const outcomes = await service.recoverUnfinished({ taskId: 'task-c', graceMs: 60_000 });
    expect(outcomes).toMatchObject([{ transcriptionId, outcome: 'completed', bytes: 44 + CHUNK }]);
  });
});
