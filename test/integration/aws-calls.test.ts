/**
 * src/lib/aws-calls.ts is the one list of AWS requests the service makes; infra/test simulates each
 * against the stack's policies. These tests keep the list true to the code: every SDK command the
 * runtime sends is in it (a new call without an entry fails here), and the S3 requests a real
 * recording sends carry exactly the encryption headers the list states (the bucket policy is
 * simulated with those).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsCalls, type AwsTarget } from '../../src/lib/aws-calls.js';
import { abortUpload, createUpload, objectExists } from '../../src/recordings/multipart.js';
import { createRecordingService } from '../../src/recordings/service.js';
import { pcmChunk, seedTranscription, silentLogger, useRecordingsEnv } from '../support/recordings.js';

const env = useRecordingsEnv();
const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-aaaa-4bbb-8ccc-123456789abc';
const target: AwsTarget = {
  region: 'eu-west-1',
  transcribeRegion: 'eu-west-1',
  bucket: 'b',
  prefix: 'recordings/',
  kmsKeyArn: KEY,
  databaseSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf',
};
const listed = awsCalls(target);

/** Every `new XxxCommand(` in the runtime's source (the deploy CLI runs as the deploy identity, not the task). */
function commandsInSource(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (file !== path.join('src', 'deploy')) walk(file);
      } else if (file.endsWith('.ts')) {
        for (const m of fs.readFileSync(file, 'utf8').matchAll(/new (?:sdk\.)?([A-Z]\w+Command)\(/g)) found.set(m[1]!, file);
      }
    }
  };
  walk('src');
  return found;
}

describe('the list of AWS calls (src/lib/aws-calls.ts)', () => {
  it('names every SDK command the runtime sends, and nothing it does not', () => {
    const inSource = commandsInSource();
    expect(inSource.size).toBeGreaterThan(5);
    const inList = new Set(listed.flatMap((c) => (c.command ? [c.command] : [])));
    expect([...inSource.keys()].filter((c) => !inList.has(c)).map((c) => `${c} (${inSource.get(c)})`)).toEqual([]);
    expect([...inList].filter((c) => !inSource.has(c))).toEqual([]);
  });

  it('states the encryption headers each S3 request of a real recording carries', async () => {
    const { store, requests } = env.s3.store({ kmsKeyId: KEY });
    const recordings = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 50, maxMs: 200 } });
    const { transcriptionId } = await seedTranscription(env.db);
    const writer = await recordings.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    for (let seq = 0; seq < 3; seq++) await writer.appendPcm(pcmChunk(seq, 32_000));
    const done = await writer.finish();
    await store.check();
    expect(await objectExists(store, done.objectKey)).toBe(true);
    const key = `${store.prefix}abandoned.wav`;
    // s3rver answers AbortMultipartUpload with MethodNotAllowed; the request as sent is what counts.
    await abortUpload(store, key, await createUpload(store, key, 'audio/wav')).catch((err: Error) => expect(err.name).toBe('MethodNotAllowed'));

    const sent = new Set(requests.map((r) => r.command));
    for (const command of ['CreateMultipartUploadCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand', 'GetObjectCommand', 'HeadBucketCommand', 'HeadObjectCommand', 'AbortMultipartUploadCommand']) {
      expect(sent).toContain(command);
    }
    for (const r of requests) {
      const call = listed.find((c) => c.command === r.command);
      expect(call, r.command).toBeDefined();
      // The header S3 turns into the condition key, and its value, as the list states them.
      for (const header of ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id']) {
        expect([r.command, header, r.headers[header]]).toEqual([r.command, header, call!.context[`s3:${header}`]]);
      }
    }
  }, 60_000);
});
