import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wavHeader } from '../../src/recordings/wav.js';
import { createRecordingService } from '../../src/recordings/service.js';
import { getObject, pcmChunk, seedTranscription, sha256, silentLogger, useRecordingsEnv } from '../support/recordings.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024; // 2 s of 16 kHz PCM


const env = useRecordingsEnv();

async function recordingRow(transcriptionId: string) {
  const { rows } = await env.db.query(`SELECT * FROM recordings WHERE transcription_id = $1`, [transcriptionId]);
  return rows[0];
}

describe('recording writer (PCM → WAV, streamed multipart upload)', () => {
  it('S3 unreachable for 10 s mid-recording: warns, keeps accepting audio, recovers, and stores the full recording', async () => {
    const { store } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 100, maxMs: 500 } });
    const { transcriptionId } = await seedTranscription(env.db);
    const writer = await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    const events: string[] = [];
    writer.on('warning', () => events.push('warning'));
    writer.on('recovered', () => events.push('recovered'));
    writer.on('failed', () => events.push('failed'));

    const chunks: Buffer[] = [];
    const append = async (from: number, to: number) => {
      for (let seq = from; seq < to; seq++) {
        const c = pcmChunk(seq, CHUNK);
        chunks.push(c);
        await writer.appendPcm(c);
      }
    };
    await append(0, 100); // ~6.25 MiB: part 1 (held for the WAV header) sealed, part 2 open
    await env.s3.proxy.cut('refuse');
    const outageStart = Date.now();
    // Part 2 and 3 fill and seal while S3 is away; the writer must keep acknowledging.
    await append(100, 260);
    expect(writer.status().partsPending).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - outageStart))));
    expect(events).toEqual(['warning']);
    expect(writer.status().state).toBe('warning');
    const spoolFiles = fs.readdirSync(path.join(env.spoolRoot, writer.recordingId));
    expect(spoolFiles.length).toBeGreaterThanOrEqual(3);
    const recovered = new Promise<void>((resolve) => writer.once('recovered', () => resolve()));
    await env.s3.proxy.restore();
    await append(260, 300);
    await recovered;
    expect(writer.status().state).toBe('recording');
    const result = await writer.finish();
    expect(events).toEqual(['warning', 'recovered']);
    expect(result.state).toBe('completed');

    const pcm = Buffer.concat(chunks);
    const expected = Buffer.concat([wavHeader(16000, pcm.length), pcm]);
    const stored = await getObject(store, result.objectKey);
    expect(stored.length).toBe(expected.length);
    expect(sha256(stored)).toBe(sha256(expected));
    const audioMs = (pcm.length / 2 / 16000) * 1000;
    const row = await recordingRow(transcriptionId);
    expect(row.upload_state).toBe('completed');
    expect(row.sha256).toBe(sha256(expected));
    expect(Number(row.bytes)).toBe(expected.length);
    expect(Math.abs(Number(row.duration_ms) - audioMs) / audioMs).toBeLessThan(0.01);
    expect(row.content_type).toBe('audio/wav');
    expect(row.object_key).toMatch(/^recordings\/[0-9a-f-]{36}\.wav$/);
    expect(row.object_key).not.toContain(transcriptionId);
    // Spool deleted once S3 holds everything.
    expect(fs.existsSync(path.join(env.spoolRoot, writer.recordingId))).toBe(false);
  }, 60_000);

  it('finishes a multi-part recording within 1 s of stop: only the header part and the last part remain', async () => {
    const { store, requests } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 100, maxMs: 500 } });
    const { transcriptionId } = await seedTranscription(env.db);
    const writer = await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    const chunks: Buffer[] = [];
    for (let seq = 0; seq < 260; seq++) {
      chunks.push(pcmChunk(seq, CHUNK));
      await writer.appendPcm(chunks[seq]!);
    }
    // Let the background uploads of the sealed middle parts settle, as they do in a live session.
    for (let i = 0; i < 100 && writer.status().partsUploaded < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(writer.status().partsUploaded).toBe(2);
    const before = requests.length;
    const result = await writer.finish();
    // How long that takes is measured by scripts/bench-recording-stop.ts, not asserted here.
    const afterStop = requests.slice(before).map((r) => r.command);
    expect(afterStop.filter((c) => c === 'UploadPartCommand')).toHaveLength(2);
    expect(afterStop).toContain('CompleteMultipartUploadCommand');
    const pcm = Buffer.concat(chunks);
    expect(sha256(await getObject(store, result.objectKey))).toBe(sha256(Buffer.concat([wavHeader(16000, pcm.length), pcm])));
  }, 60_000);

  it('asks for SSE-KMS with the configured key, and AES256 without one', async () => {
    for (const kmsKeyId of ['arn:aws:kms:us-east-1:111122223333:key/test-key', undefined]) {
      const { store, requests } = env.s3.store(kmsKeyId ? { kmsKeyId } : {});
      const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 50, maxMs: 200 } });
      const { transcriptionId } = await seedTranscription(env.db);
      const writer = await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
      await writer.appendPcm(pcmChunk(1, CHUNK));
      await writer.finish();
      const create = requests.find((r) => r.command === 'CreateMultipartUploadCommand');
      expect(create).toBeDefined();
      if (kmsKeyId) {
        expect(create!.headers['x-amz-server-side-encryption']).toBe('aws:kms');
        expect(create!.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(kmsKeyId);
      } else {
        expect(create!.headers['x-amz-server-side-encryption']).toBe('AES256');
        expect(create!.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBeUndefined();
      }
    }
  });

  it('creates the first spool part when it opens, before any audio (a live session opens it before acknowledging the start); a recording that gets no audio is still discarded', async () => {
    const { store } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const { transcriptionId } = await seedTranscription(env.db);
    const writer = await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    const dir = path.join(env.spoolRoot, writer.recordingId);
    expect(fs.readdirSync(dir)).toHaveLength(1);
    expect(fs.statSync(path.join(dir, fs.readdirSync(dir)[0]!)).size).toBe(0);
    const result = await writer.finish();
    expect(result.state).toBe('empty');
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('spools under owner-only permissions', async () => {
    const { store } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const { transcriptionId } = await seedTranscription(env.db);
    const writer = await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    await writer.appendPcm(pcmChunk(0, CHUNK));
    const dir = path.join(env.spoolRoot, writer.recordingId);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    await writer.finish();
  });
});

describe('recording writer when S3 stays away or refuses', () => {
  it('stop while S3 is down: finish answers `pending` after its timeout, then completes in the background once S3 is back', async () => {
    const { store } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 100, maxMs: 300 } });
    const { transcriptionId } = await seedTranscription(env.db);
    const writer = await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    const chunks = Array.from({ length: 10 }, (_, seq) => pcmChunk(seq, CHUNK));
    for (const c of chunks) await writer.appendPcm(c);
    await env.s3.proxy.cut('refuse');
    const completed = new Promise<{ objectKey: string }>((resolve) => writer.once('completed', resolve));
    const result = await writer.finish({ timeoutMs: 500 });
    expect(result.state).toBe('pending');
    expect((await recordingRow(transcriptionId)).upload_state).toBe('completing');
    await env.s3.proxy.restore();
    const done = await completed;
    const pcm = Buffer.concat(chunks);
    expect(sha256(await getObject(store, done.objectKey))).toBe(sha256(Buffer.concat([wavHeader(16000, pcm.length), pcm])));
    expect((await recordingRow(transcriptionId)).upload_state).toBe('completed');
  }, 30_000);

  it('a store that refuses the upload (no such bucket) fails the recording with a terminal `failed`, not a warning', async () => {
    const { createObjectStore } = await import('../../src/storage/s3.js');
    const store = createObjectStore(
      { bucket: 'no-such-bucket', prefix: 'recordings/', region: 'us-east-1', endpoint: env.s3.proxy.endpoint, credentials: env.s3.s3.credentials, maxAttempts: 1 },
      silentLogger(),
    );
    try {
      const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 50, maxMs: 100 } });
      const { transcriptionId } = await seedTranscription(env.db);
      const writer = await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
      const events: string[] = [];
      writer.on('warning', () => events.push('warning'));
      const failed = new Promise<Error>((resolve) => writer.once('failed', resolve));
      const err = await failed;
      expect(err).toMatchObject({ code: 'storage_unavailable' });
      expect(events).toEqual([]);
      await expect(writer.appendPcm(pcmChunk(0, CHUNK))).rejects.toMatchObject({ code: 'storage_unavailable' });
      for (let i = 0; i < 50 && (await recordingRow(transcriptionId)).upload_state !== 'failed'; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await recordingRow(transcriptionId)).upload_state).toBe('failed');
    } finally {
      store.close();
    }
  });
});

describe('recording writer (Opus packets → Ogg Opus)', () => {
  it('re-muxes packets into a seekable Ogg Opus object whose duration matches the audio within 1 %', async () => {
    const { store } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const { transcriptionId } = await seedTranscription(env.db, { encoding: 'webm_opus' });
    const writer = await service.open({ transcriptionId, encoding: 'webm_opus', opusHead: { channels: 1, preSkip: 312, inputSampleRate: 48000 } });
    // 20 ms CELT packets of varying size, 250 ms per chunk (what MediaRecorder's timeslice gives), 6 minutes;
    // some packets exceed 255 bytes so lacing values continue.
    const packet = (i: number) => Buffer.alloc(60 + (i % 7) * 90, i & 0xff).fill(0xfc, 0, 1);
    let n = 0;
    for (let chunk = 0; chunk < 6 * 60 * 4; chunk++) {
      const packets = [];
      for (let k = 0; k < 12; k++) packets.push({ data: packet(n++), samples48k: 960 });
      await writer.appendOpus(packets.slice(0, 12));
    }
    const result = await writer.finish();
    const audioMs = (n * 960 - 312) / 48;
    expect(result.contentType).toBe('audio/ogg; codecs=opus');
    expect(Math.abs(result.durationMs! - audioMs) / audioMs).toBeLessThan(0.01);
    const stored = await getObject(store, result.objectKey);
    expect(stored.subarray(0, 4).toString('latin1')).toBe('OggS');
    expect(stored.subarray(28, 36).toString('latin1')).toBe('OpusHead');
    // The last page is flagged end-of-stream and carries the final granule position.
    const lastPage = stored.lastIndexOf(Buffer.from('OggS'));
    expect(stored[lastPage + 5]! & 0x04).toBe(0x04);
    expect(stored.readBigInt64LE(lastPage + 6)).toBe(BigInt(n * 960));
    expect((await recordingRow(transcriptionId)).sha256).toBe(sha256(stored));
  }, 60_000);
});

describe('an Ogg recording opened before its OpusHead (a live session opens it at session:start)', () => {
  it('refuses packets before the head with invalid_audio, writes the header pages when the head comes, and stores the same bytes as one opened with the head', async () => {
    const { store } = env.s3.store();
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const head = { channels: 1, preSkip: 312, inputSampleRate: 48000 };
    const packets = Array.from({ length: 50 }, (_, i) => ({ data: Buffer.alloc(80 + i, i).fill(0xfc, 0, 1), samples48k: 960 }));
    const stored: Buffer[] = [];
    for (const early of [true, false]) {
      const { transcriptionId } = await seedTranscription(env.db, { encoding: 'ogg_opus' });
      const writer = early ? await service.open({ transcriptionId, encoding: 'ogg_opus' }) : await service.open({ transcriptionId, encoding: 'ogg_opus', opusHead: head });
      if (early) {
        await expect(writer.appendOpus(packets.slice(0, 1))).rejects.toMatchObject({ code: 'invalid_audio' });
        await expect(writer.setOpusHead({ ...head, channels: 3 })).rejects.toMatchObject({ code: 'unsupported_audio_format' });
        await writer.setOpusHead(head);
        await writer.setOpusHead({ ...head, preSkip: 0 }); // a stream has one head: a second is ignored
      }
      await writer.appendOpus(packets);
      const result = await writer.finish();
      expect(Math.abs(result.durationMs! - (50 * 960 - 312) / 48)).toBeLessThan(1);
      stored.push(await getObject(store, result.objectKey));
    }
    // The same stream but for the serial number (random per recording): pages' headers differ there and in their CRC.
    const strip = (b: Buffer) => {
      const c = Buffer.from(b);
      for (let at = c.indexOf('OggS'); at >= 0; at = c.indexOf('OggS', at + 4)) c.fill(0, at + 14, at + 26);
      return c;
    };
    expect(stored[0]!.length).toBe(stored[1]!.length);
    expect(strip(stored[0]!).equals(strip(stored[1]!))).toBe(true);
  }, 60_000);
});

describe('recording part uploads across writers', () => {
  it('12 recordings stopping at once with uploadConcurrency 3: never more than 3 UploadPart requests in flight, and every recording is stored whole', async () => {
    const { store } = env.s3.store();
    // Counts UploadPart requests between the SDK sending them and S3's answer (a real middleware on
    // the client every writer shares, not a stand-in for it).
    let inFlight = 0;
    let maxInFlight = 0;
    let uploadParts = 0;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'UploadPartCommand') return next(args);
        uploadParts++;
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: 'finalizeRequest', name: 'countUploadPartsInFlight' },
    );
    const service = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 100, maxMs: 500 }, uploadConcurrency: 3 });
    const N = 12;
    const writers = [];
    for (let i = 0; i < N; i++) {
      const { transcriptionId } = await seedTranscription(env.db);
      writers.push({ transcriptionId, writer: await service.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 }), chunks: [] as Buffer[] });
    }
    // 81 chunks of 64 KiB: part 1 (5 MiB with the header, held for the WAV header) and a short
    // part 2, so each finish sends two parts and the 12 stops ask for 24 uploads together.
    for (let seq = 0; seq < 81; seq++) {
      await Promise.all(
        writers.map((w, i) => {
          const c = pcmChunk(i * 1000 + seq, CHUNK);
          w.chunks.push(c);
          return w.writer.appendPcm(c);
        }),
      );
    }
    expect(uploadParts).toBe(0);

    const results = await Promise.all(writers.map((w) => w.writer.finish()));

    expect(uploadParts).toBe(2 * N);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThanOrEqual(2);
    for (const [i, w] of writers.entries()) {
      const result = results[i]!;
      expect(result.state).toBe('completed');
      const pcm = Buffer.concat(w.chunks);
      const expected = Buffer.concat([wavHeader(16000, pcm.length), pcm]);
      expect(sha256(await getObject(store, result.objectKey))).toBe(sha256(expected));
      expect((await recordingRow(w.transcriptionId)).upload_state).toBe('completed');
    }
  }, 120_000);
});
