import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSharedPcm } from '../support/audio.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { HttpClient } from '../support/http.js';
import { runCli, spawnService, type ServiceProcess } from '../support/process.js';
import { startTranscribeServer } from '../support/transcribe-server.js';

const dirs: string[] = [];
const procs: ServiceProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
  for (const p of procs) await p.stop('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('the service killed with SIGKILL mid-session', () => {
  it('recovers the recording up to the last acknowledged chunk at the next start, and closes the transcription', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-crash-'));
    dirs.push(dir);
    // The Transcribe protocol stand-in keeps the engine from being the bottleneck of a 3-minute feed.
    const transcribe = await startTranscribeServer();
    cleanups.push(() => transcribe.close());
    const env = {
      DATA_DIR: dir,
      TRANSCRIBE_ENGINE: 'aws',
      AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING: transcribe.url,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    };
    expect((await runCli(['users', 'add', '--username', 'dr.k', '--role', 'clinician', '--password-stdin'], env, 'crash-test-password')).code).toBe(0);
    const first = await spawnService(env);
    procs.push(first);
    const http = new HttpClient(first.url);
    await http.login('dr.k', 'crash-test-password');
    const client = new DictationClient(first.url, http.cookieHeader);
    await client.start({ title: 'crash', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } });
    // More than one 5 MiB part (≈ 2.7 min of 16 kHz audio), so recovery joins S3 parts and the spool.
    const speech = readSharedPcm('real/1089-134686-0000.wav');
    const pcm = Buffer.concat(Array.from({ length: 18 }, () => speech));
    const chunks = pcmChunks(pcm, 500);
    const last = await client.stream(chunks, { inFlight: 4 });
    expect(last.ackSeq).toBe(chunks.length - 1);
    const ackedMs = (pcm.length / 32000) * 1000;
    client.close();

    await first.stop('SIGKILL'); // no shutdown code runs

    const second = await spawnService(env);
    procs.push(second);
    const reviewer = new HttpClient(second.url);
    await reviewer.login('dr.k', 'crash-test-password');
    const list = await reviewer.get('/api/transcriptions');
    const item = list.json.items.find((i: { id: string }) => i.id === client.transcriptionId);
    expect(item).toBeDefined();
    expect(item.status).not.toBe('recording');
    const detail = (await reviewer.get(`/api/transcriptions/${client.transcriptionId}`)).json;
    expect(detail.recording).toMatchObject({ available: true, contentType: 'audio/wav' });
    // Every acknowledged sample is in the stored WAV (header + 16-bit samples).
    expect(detail.recording.bytes).toBe(44 + pcm.length);
    const audio = await reviewer.get(`/api/transcriptions/${client.transcriptionId}/audio`, { range: 'bytes=0-43' });
    expect(audio.status).toBe(206);
    expect(Math.abs(detail.durationMs - ackedMs)).toBeLessThan(2500); // progress is stored every 2 s
    expect(await second.stop()).toBe(0);
  });
});
